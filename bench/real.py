"""Real messages: the default taxonomy on hand-labelled public complaints, beside a baseline in the same run.

The data is not the project's (`community_dev.csv`, real messages from a provincial leaders' message board, labelled
by hand in our taxonomy): it is read where it lies (`WGT_REAL_DATA`, default `../shared/data/community_dev.csv`) and
never copied. A fifth of its rows, chosen by a hash of their id (`nlp.evaluate.held_out`), is set aside: nothing here
reads it unless `--holdout` is given, which is done once, at the end of a piece of tuning work.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nlp
from bench import harness
from bench.harness import ROOT, Options, progress
from bench.results import Report, parse
from nlp import danger
from nlp.evaluate import Evaluation, held_out, score, truthy, urgency_scores
from nlp.taxonomy import Taxonomy
from nlp.tune import cross_validate, without_learned

SECTION = "Real messages"
DATA = Path(os.environ.get("WGT_REAL_DATA", ROOT.parent / "shared" / "data" / "community_dev.csv"))
BASELINE = ROOT / "bench" / "baseline_taxonomy.yaml"
OWN_EXAMPLES = ROOT / "tests" / "data" / "complaints_dev.csv"
BLIND_BOARD = ROOT / "bench" / "data" / "blind_board.csv"
# Later board sets, each written by a helper who read only ../shared's TAXONOMY.md, DOMAIN.md and community_dev.csv
# (not this repository), with what its first scoring gave.
LATER_BOARDS = (
    (
        ROOT / "bench" / "data" / "blind_board2.csv",
        "first scored 2026-12-05 at ab09070, before anyone read it: bundled 0.750 all, 0.858 clear, macro-F1 0.749, "
        "urgent 14/14, false alarms 6/166 (baseline 0.639, 0.736, 0.615, 12/14, 1/166); its misses were then read "
        "and what TAXONOMY.md's lists say was put right in general (traffic signals and lane design to 停车交通, "
        "small ads to 违建占道, 卫生间, telecom, tax and food safety, e-bikes in lifts, facades and leaning trees, "
        "money conflicts with the 物业, outdoor drains and things on the ground not urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_board3.csv",
        "written 2026-12-05 after blind_board2's fixes; first scored at 506f016, before anyone read it: bundled "
        "0.806 all, 0.861 clear, macro-F1 0.799, urgent 13/15, false alarms 5/165 (the tree before blind_board2's "
        "fixes, ab09070: 0.783, 0.833, 0.777, 13/15, 5/165; baseline 0.694, 0.704, 0.681, 10/15, 4/165); its misses "
        "were then read and TAXONOMY.md's lists put right in general again (stalls and tables on the pavement, "
        "businesses in flats, dead-end roads, bollards and signs, lane design, dogs off the lead, things thrown "
        "from windows, light pollution, food poisoning; a lift trapping people now though a fix was reported last "
        "month, water running into a flat), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_board4.csv",
        "written 2026-12-05 after blind_board3's fixes (its writer's script added stock greetings and closings to "
        "many rows); first scored at cde5f88, before anyone read it: bundled 0.833 all, 0.901 clear, macro-F1 "
        "0.843, urgent 13/13, false alarms 4/137 (the tree before the day's fixes, ab09070: 0.787, 0.846, 0.782, "
        "13/13, 4/137; baseline 0.693, 0.758, 0.675, 12/13, 3/137); its misses were then read and TAXONOMY.md's "
        "lists put right in general (a lift trapping people stays property, dogs that bite and unlicensed taxis to "
        "security, objections to a base station, food hygiene, ferries, gas not yet connected, a wall broken open, "
        "vegetable plots, basements let as rooms, light from screens, shared bikes, a neighbour or the 物业 in a money "
        "conflict; a guardrail hit by a car, a bollard on the ground and cats fighting not urgent), so it is no longer "
        "blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_board5.csv",
        "written 2026-12-05 by a helper who read only ../shared's pages, each message by hand; first scored at "
        "4124588 (after blind_board4's fixes), before anyone read it: bundled 0.847 all, 0.932 clear, macro-F1 0.852, "
        "urgent 14/14, false alarms 6/136 (the tree before blind_board4's fixes, 79e5c80: 0.820, 0.922, 0.824, 14/14, "
        "6/136; baseline 0.727, 0.796, 0.719, 11/14, 4/136); its misses and false alarms were then read and "
        "TAXONOMY.md's lists put right in general (burst pipes upstairs, estate parking fees, landlords cutting the "
        "power, fee refunds, 验房 defects, sewage welling out, flats as warehouses, gated corridors, tricycle vendors, "
        "cars repaired on the road, rusty gas pipes, 公积金 for rent; smoke from a barbecue, a salesman's 漏气危险, "
        "别等…受伤, fumes into a flat and a branch denting a car not urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_board6.csv",
        "written 2026-12-05 beside blind_board5 by another helper (long and blunt messages, dialect, phone typos, "
        "children writing for parents); first scored at 4124588, before anyone read it: bundled 0.827 all, 0.907 "
        "clear, macro-F1 0.829, urgent 15/15, false alarms 3/135 (79e5c80: 0.807, 0.907, 0.806, 15/15, 4/135; "
        "baseline 0.653, 0.748, 0.644, 9/15, 3/135); scored again, still unread, after blind_board5's fixes "
        "(the tree of blind_board5's commit): 0.847, 0.916, 0.849, 15/15, 3/135; then read and TAXONOMY.md's lists "
        "put right in general (public railings giving shocks, loose manhole covers, restaurant kitchens, sewer smells, "
        "air-conditioner drips, bulging walls, 二房东 group rental, pumps banging, gyms gone with prepaid cards, car "
        "doors tried at night, 电体 for 电梯, municipal roads, incinerators; daily habits and threats not yet carried "
        "out not urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_board7.csv",
        "written 2026-12-05 after blind_board6's fixes by a helper who read only ../shared's pages and was told to "
        "avoid the themes earlier sets repeated (villages and towns, factory estates, shop owners, riders, migrant "
        "workers); first scored at 329620f, before anyone read it: bundled 0.767 all, 0.841 clear, macro-F1 0.765, "
        "urgent 15/15, false alarms 6/135 (79e5c80: 0.753, 0.832, 0.750, 15/15, 7/135; baseline 0.633, 0.692, "
        "0.601, 11/15, 4/135); then read and TAXONOMY.md's lists put right in general (changes of use and "
        "developers' common space, village rebuilds over their permit, painted ads, fire lanes, fraud calls, "
        "gambling, illegal minibuses, dust, burning cables, public toilets, heating fees, dogs barking, family "
        "disputes, meter boxes, unfenced ponds; a subject line's danger told as past in the body, habits such as "
        "一下雨 not urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_board8.csv",
        "written 2026-12-05 after blind_board7's fixes by a helper who read only ../shared's pages (a large southern "
        "or western city, urban villages, metro works, riders, landlords; situations earlier examples do not list); "
        "first scored at 041857b, before anyone read it: bundled 0.853 all, 0.911 clear, macro-F1 0.856, urgent "
        "14/14, false alarms 3/136 (79e5c80: 0.807, 0.891, 0.803, 14/14, 4/136; baseline 0.693, 0.772, 0.676, "
        "10/14, 0/136); then read and TAXONOMY.md's lists put right in general (solar heaters rusting on roofs, "
        "tutoring classes and car washes, footbridge lifts and bus shelters, pyramid selling, drum lessons, sub-meter "
        "water bills, balconies extended, telecom signal, polluted streams, invoices, expired meat, refunds; smoke "
        "from burning rubbish, a railing leaning out and a wall leaning for years not urgent), so it is no longer "
        "blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_board9.csv",
        "written 2026-12-05 after blind_board8's fixes by a helper who read only ../shared's pages (a northern city "
        "in all seasons, 单位 housing and 棚改 estates, voice input, terse office workers); first scored at ca9faea, "
        "before anyone read it: bundled 0.813 all, 0.857 clear, macro-F1 0.813, urgent 14/15, false alarms 6/135 "
        "(79e5c80: 0.773, 0.829, 0.773, 15/15, 7/135; baseline 0.620, 0.657, 0.598, 11/15, 4/135); then read and "
        "TAXONOMY.md's lists put right in general (height-limit frames, feral cats, barbecue exhaust, poplar fluff, "
        "siting by a school, parcels unloaded at night, gas pipes moved, e-bikes under stairs, health-product "
        "fraud, roof leaks, unlicensed clinics, fibre cuts, public-welfare jobs, children not supporting a parent; "
        "这会儿 is now, a chimney's smoke, 打架子鼓, foam on a river, cigarette smoke and a queue of cars not "
        "urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat1.csv",
        "chat messages as residents type them to the 公众号, no subject line, written 2026-12-05 after "
        "blind_board9's fixes by a helper who read only ../shared's pages; first scored at b9211d3, before anyone "
        "read it: bundled 0.760 all, 0.804 clear, macro-F1 0.769, urgent 18/19, false alarms 2/181 (79e5c80: "
        "0.685, 0.743, 0.693, 18/19, 3/181; baseline 0.620, 0.662, 0.626, 12/19, 1/181); then read and "
        "TAXONOMY.md's lists put right in general (short messages with one word to go by: buses, meals for the "
        "elderly, spam and fraud calls, zombie vans, broadband, mastiffs, running children, ads; phone typos such "
        "as 装休, 井该, 无业费, 消房通道; dialect; a tree fallen onto power lines is urgent, a leak already stopped "
        "and sewage out of a street drain are not), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat2.csv",
        "200 more chat messages, no subject line, written 2026-12-05 after blind_chat1's fixes by a helper who read "
        "only ../shared's pages; first scored at f64d263, before anyone read it: bundled 0.725 all, 0.776 clear, "
        "macro-F1 0.725, urgent 15/17, false alarms 5/183 (before blind_chat1's fixes, b9211d3: 0.690, 0.721; "
        "79e5c80: 0.640, 0.673, 15/17, 6/183; baseline 0.565, 0.605, 0.560, 7/17, 3/183); then read and "
        "TAXONOMY.md's lists put right in general (roosters, grass cutting, ventilation fans, bus intervals and "
        "ferries, quarry and muck-truck dust, gambling, 物业 electricity mark-ups, riders' fines, 三无 snacks, "
        "village signal, retaining walls, grain on roads, street-name signs, foremen gone with wages; 今早 is now, "
        "a fire spreading outdoors is urgent, 不是煤气 and 那场…灭掉 end a danger), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat3.csv",
        "200 chat messages, no subject line, about one in five with a pinyin-input slip in its key word, written "
        "2026-12-05 after blind_chat2's fixes by a helper who read only ../shared's pages; first scored at 29bb78e, "
        "before anyone read it: bundled 0.745 all, 0.808 clear, macro-F1 0.736, urgent 16/16, false alarms 1/184 "
        "(baseline 0.560, 0.582, 0.540, 12/16, 3/184); then phone typos were put right (nlp/homophones.py, its rules "
        "chosen among a few variants by this set's and blind_chat4's totals, no row read): 0.765, 0.836, 0.765, "
        "16/16, 1/184; then read, with blind_chat4, and TAXONOMY.md's lists put right in general (the 物业 letting "
        "out common ground or deleting a plate over fees, pension checks, open meter boxes, pigeons, erhu, bus "
        "shelters, breaker hammers, AC brackets on a neighbour's wall, training refunds, sign boards lit all night, "
        "drains and lamps inside a compound, school places), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat4.csv",
        "200 chat messages leaning short, typos and traditional characters now and then, written 2026-12-05 beside "
        "blind_chat3 by another helper who read only ../shared's pages; first scored at 29bb78e, before anyone read "
        "it: bundled 0.765 all, 0.795 clear, macro-F1 0.756, urgent 15/16, false alarms 4/184 (baseline 0.590, "
        "0.635, 0.581, 9/16, 3/184); then phone typos put right as for blind_chat3, no row read: 0.795, 0.833, "
        "0.797, 16/16, 4/184; then read, with blind_chat3, and the lists put right in general (over-pruning, "
        "chopping at night, funeral bands, Cantonese 好嘈, posters on poles, filthy public toilets, cars on the "
        "pavement, a neighbour knocking every night, bins emptied before dawn, unfilled potholes, dog bites with "
        "the bill refused, warranties refused; smoke from burning rubbish, a queue 堵得一动不动, an e-bike 进水了 "
        "and a meter box 关在里面 not urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat5.csv",
        "200 chat messages from a county town and old neighbourhoods (voice run-ons, elderly wording, local words, "
        "typos), written 2026-12-05 after blind_chat3's and blind_chat4's fixes by a helper who read only ../shared's "
        "pages; first scored at 2e5d597, before anyone read it: bundled 0.770 all, 0.811 clear, macro-F1 0.760, "
        "urgent 15/16, false alarms 2/184 (baseline 0.600, 0.628, 0.574, 9/16, 2/184); then read, with blind_chat6, "
        "and TAXONOMY.md's lists put right in general (workshops at night, shutters, whips and voice training at "
        "dawn, piling and road works at night, school broadcasts, site dust, smoked meat, rusty railings, road "
        "signs, repairs and stalls on the pavement or the blind lane, flowerpots thrown down, tyres holding a space, "
        "riders docked, county buses, roof sheds, driving schools, water tanks; plastic smoke and a 臭鸡蛋味 the gas "
        "company found no leak for not urgent, a tree leaning its weight on a roof urgent), so it is no longer "
        "blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat6.csv",
        "200 chat messages from a large city's new estates and urban villages (renters, parents, riders, shop "
        "owners; terse lines, English letters, typos), written beside blind_chat5 by another helper who read only "
        "../shared's pages; first scored at 2e5d597, before anyone read it: bundled 0.825 all, 0.871 clear, "
        "macro-F1 0.824, urgent 15/15, false alarms 0/185 (baseline 0.645, 0.729, 0.625, 8/15, 3/185); then read, "
        "with blind_chat5, and the lists put right in general (bus stops moved, metro works at night, a compound's "
        "railing giving shocks is safety, 宅基地 houses built up, 不栓绳, a compound's playground, chanting, cooling "
        "towers, holiday classes, flats let by the day, roof sheds, soil pipes bursting indoors, crossings, metro-exit "
        "vendors, balconies jutting out, hoardings left up, shop licences, 4S shops, drilling all day), so it is no "
        "longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat7.csv",
        "200 chat messages from a mid-sized city in all seasons (danwei compounds, resettlement estates, markets and "
        "schools), written 2026-12-05 after blind_chat5's and blind_chat6's fixes by a helper who read only "
        "../shared's pages; first scored at b698a5f, before anyone read it: bundled 0.870 all, 0.909 clear, "
        "macro-F1 0.866, urgent 14/16, false alarms 3/184 (baseline 0.650, 0.714, 0.630, 5/16, 3/184); then read, "
        "with blind_chat8, and the lists put right in general (a person down 倒在…地上 and 叫也不答应, a roof shed "
        "lifting in the wind urgent; smoke from a kebab stall and a pavement car wash 满地是水 not urgent; gas "
        "repairs billed, concrete plants, mahjong rooms, roads left half built, a seller's hukou, card players at "
        "night, the 物业 cutting power, floors added for compensation, firecracker litter, bus stop signs moved, "
        "compound storm drains, wedding salutes), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat8.csv",
        "200 messages to the mini-program from many kinds of residents (retirees, migrant workers, landlords, "
        "carers; formal, angry, confused, questions), written beside blind_chat7 by another helper who read only "
        "../shared's pages; first scored at b698a5f, before anyone read it: bundled 0.855 all, 0.899 clear, "
        "macro-F1 0.850, urgent 16/16, false alarms 2/184 (baseline 0.625, 0.669, 0.591, 11/16, 3/184); then read, "
        "with blind_chat7, and the lists put right in general (call buttons for the old, car alarms, rooftop pumps, "
        "neon lights, abuse in the owners' group, cars on the blind lane, morning markets, bus frequency, lift "
        "inspections, free-egg sales talks, reversing alarms, one-way streets, a compound's dead cameras; a ceiling "
        "泡塌了一块 and a jam 一动不动 at rush hour not urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat9.csv",
        "200 chat messages from a northern city, its villages and factory towns (heating and coal, snow and ice, "
        "dialect such as 嘎哈 and 埋汰), written 2026-12-05 after blind_chat7's and blind_chat8's fixes by a helper "
        "who read only ../shared's pages; first scored at 359e641 (its classifier answers as 242a051's), before "
        "anyone read it: bundled 0.850 all, 0.896 clear, macro-F1 0.831, urgent 16/17, false alarms 2/183 "
        "(baseline 0.675, 0.679, 0.627, 10/17, 2/183); then read, with blind_chat10, and the lists put right in "
        "general (coal-stove poisoning, 恶心 or 吐了 beside a stove, urgent; coal yards, mills discharging into "
        "rivers, family hotels, chained power strips, stolen drain covers, heating billed for empty flats, fake gas "
        "men, cattle theft, butchering by the road, demolition money, mined-out ground, 不认账), so it is no longer "
        "blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat10.csv",
        "200 messages from a southern coastal city (typhoons, 骑楼 streets, 城中村, night markets; Cantonese and "
        "Minnan-flavoured words), written beside blind_chat9 by another helper who read only ../shared's pages; "
        "first scored at 359e641, before anyone read it: bundled 0.780 all, 0.820 clear, macro-F1 0.769, urgent "
        "15/17, false alarms 5/183 (baseline 0.630, 0.662, 0.607, 6/17, 6/183); then read, with blind_chat9, and the "
        "lists put right in general (Cantonese denials 冇 and 唔系, 一落大雨 as habit, 浸晒 and 喉爆咗 urgent, a "
        "roof sheet 掀起 in a typhoon urgent; 打交, cars on zebra crossings, dead fish, spin cycles at night, gas "
        "cylinders in the sun, coaches idling, water dripping on washing, rusted billboards, canteens for the old, "
        "shelter forests cut, fallen lamp posts, prepaid cards, compressors, blood into drains), so it is no longer "
        "blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat11.csv",
        "200 chat messages as residents anywhere in China type them (any region, neighbourhood and age; the "
        "situations the writer judged most common), written 2026-12-05 after blind_chat9's and blind_chat10's fixes "
        "by a helper who read only ../shared's pages; first scored at 8ae178d, before anyone read it: bundled 0.900 "
        "all, 0.933 clear, macro-F1 0.898, urgent 16/16, false alarms 1/184 (baseline 0.655, 0.713, 0.616, 11/16, "
        "2/184); then read, with blind_chat12, and the lists put right in general (stairwells too full to flee, "
        "furniture dragged at night, toilets welling up, smoke alarms misfiring, dead cats, mattress sales talks, "
        "invoice tax, land rent, inheritance quarrels, lorries at night, bus-stop announcements, restaurant flues), so "
        "it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat12.csv",
        "200 mini-program messages from every region, reporting for others, two problems in one message, questions, "
        "traditional characters now and then, written beside blind_chat11 by another helper who read only "
        "../shared's pages; first scored at 8ae178d, before anyone read it: bundled 0.900 all, 0.927 clear, "
        "macro-F1 0.912, urgent 15/17, false alarms 3/183 (baseline 0.645, 0.675, 0.619, 7/17, 4/183); then read, "
        "with blind_chat11, and the lists put right in general (a rubbish fire 火越来越大 or 烧到 a shed and "
        "有人打老人 urgent; a fire alarm's 误报 and old people 被困在马路中间 by a short light not urgent; "
        "foremen's wages, bus lines cut, metro-exit hawkers, AC units roaring), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat13.csv",
        "200 chat messages, 'what residents of a real street complain about week by week', written 2026-12-05 after "
        "blind_chat11's and blind_chat12's fixes by a helper who read only ../shared's pages; first scored at "
        "7e59235, before anyone read it: bundled 0.855 all, 0.928 clear, macro-F1 0.857, urgent 16/16, false alarms "
        "4/184 (baseline 0.645, 0.734, 0.619, 6/16, 1/184); then read, with blind_chat14, and the lists put right in "
        "general (spaces painted and let, agents' promised taxes, stinking ditches, loan calls, things thrown down, "
        "stalls' smoke at a block's door not urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat14.csv",
        "200 mini-program messages from every kind of resident and region (questions, reports for others, two "
        "problems in one), written beside blind_chat13 by another helper who read only ../shared's pages; first "
        "scored at 92a9532, before anyone read it: bundled 0.845 all, 0.888 clear, macro-F1 0.857, urgent 16/16, "
        "false alarms 3/184 (baseline 0.630, 0.678, 0.624, 9/16, 4/184); then read, with blind_chat13, and the lists "
        "put right in general (barking breeds, sprinkler music, door numbers photographed, food carts at school "
        "gates, flats made salons, old walls leaning, bins under windows, bridge railings, scaffolding typed 角手架; "
        "a wire 从窗户掉 and 糟蹋了 not urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat15.csv",
        "200 chat messages from old compounds of a large northern city through a year, many by or for elderly "
        "residents, written after blind_chat13's and blind_chat14's fixes by a helper who read only ../shared's "
        "pages; first scored at b000ae6, before anyone read it: bundled 0.825 all, 0.901 clear, macro-F1 0.841, "
        "urgent 16/16, false alarms 3/184 (baseline 0.590, 0.648, 0.551, 10/16, 5/184); then read, with "
        "blind_chat16, and the lists put right in general (the sound as residents write it and 听得见 for noise "
        "whatever makes it, a compound wall bulging, icicles over a door, a fee held over a resident by cutting the "
        "water or keeping the car out; a person 累垮 and smoke 从早吹到晚 not urgent), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat16.csv",
        "200 chat messages from new high-rise districts of central and western China (renters, new parents, "
        "delivery riders, shops, pets, e-bikes), written beside blind_chat15 by another helper who read only "
        "../shared's pages; first scored at b000ae6, before anyone read it: bundled 0.835 all, 0.893 clear, "
        "macro-F1 0.841, urgent 13/16, false alarms 0/184 (baseline 0.625, 0.736, 0.582, 10/16, 3/184); its three "
        "missed dangers were read at once and put right in general (a lift still holding people, told after an "
        "earlier breakdown in a message with no stops; neighbours each saying a gas smell is not theirs), so its "
        "urgency is no longer blind; then its categories were read, with blind_chat15's, and put right in general "
        "(see blind_chat15), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat17.csv",
        "200 chat messages from county towns and the urban-rural fringe of central and eastern China (villages made "
        "towns, resettlement compounds, returning migrant workers, market streets, self-built houses), written after "
        "blind_chat15's and blind_chat16's fixes by a helper who read only ../shared's pages; first scored at "
        "d217135, before anyone read it: bundled 0.825 all, 0.850 clear, macro-F1 0.827, urgent 15/16, false alarms "
        "2/184 (baseline 0.665, 0.667, 0.653, 11/16, 2/184); its missed danger was read at once and put right in "
        "general (water pouring from a ceiling lamp); then its categories were read, with blind_chat18's, and put "
        "right in general (rice mills and harvesters heard at night, making peace, compensation and resettlement "
        "money, builders gone with the deposit, stalls and grain taking a road, gas cylinders and stairwells, "
        "straw burning, pig farms, title deeds), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat18.csv",
        "200 chat messages from a large coastal city's mixed neighbourhoods (office workers, shop owners, riders, "
        "retirees living with their children, landlords and tenants; typed fast, slang, a few English letters), "
        "written beside blind_chat17 by another helper who read only ../shared's pages; first scored at d217135, "
        "before anyone read it: bundled 0.845 all, 0.920 clear, macro-F1 0.841, urgent 15/16, false alarms 2/184 "
        "(baseline 0.590, 0.642, 0.564, 6/16, 4/184); its missed danger was read at once and put right in general (a "
        "mop handle swung at a door: a stick of any kind); then its categories were read and put right in general "
        "(wy for 物业, a revenge vibrator and a mahjong table heard, prepaid cards gone, door closers and parcel "
        "lockers, parcels taken, food with something in it), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat19.csv",
        "200 chat messages from the historic centre of a south-western provincial capital (alleys and courtyards, a "
        "tourist food street, guesthouses, teahouses and mahjong rooms, a wet market, hilly lanes, summer storms), "
        "written after blind_chat17's and blind_chat18's fixes by a helper who read only ../shared's pages; first "
        "scored at d29f2cb, before anyone read it: bundled 0.835 all, 0.872 clear, macro-F1 0.819, urgent 14/16, "
        "false alarms 5/184 (baseline 0.665, 0.696, 0.636, 10/16, 3/184); its missed dangers and false alarms were "
        "read at once and put right in general (a fire spreading, blood drawn; 救命 as a sigh about noise, a fight "
        "not yet begun, water in a lane, smoke whenever the wind blows), so its urgency is no longer blind; its "
        "categories were read afterwards, with blind_chat20's, and put right in general (singing drunk, a trumpet, "
        "tiles cut at night, a gate's hinge, tents pitched to trade, balconies built out, one-way streets, swill, "
        "stepped lanes, strangers at doors, 公积金 for a lift), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat20.csv",
        "200 chat messages from an industrial new district (factory dormitories, logistics parks and trucks, estates "
        "half built, resettlement blocks; shift workers, drivers, young families, grandparents), written beside "
        "blind_chat19 by another helper who read only ../shared's pages; first scored at d29f2cb, before anyone read "
        "it: bundled 0.850 all, 0.907 clear, macro-F1 0.833, urgent 16/16, false alarms 6/184 (baseline 0.620, "
        "0.673, 0.576, 6/16, 3/184); its false alarms were read at once and put right in general (a garage that "
        "floods whenever it rains, a drain overflowing at a crossing, a fire only imagined), so its urgency is no "
        "longer blind; then its categories were read and put right in general (reversing beeps, sirens, "
        "refrigerated trucks, drills' alarms, job scams, goods laid out on the road, cars on tactile paving, trees "
        "pruned bare, a haulier's pay docked, site pits), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat21.csv",
        "200 chat messages from a north-eastern city in winter and spring (walk-ups on district heating, former "
        "state-enterprise estates, snow and ice, coal boilers, retirees and their children), written after "
        "blind_chat19's and blind_chat20's fixes by a helper who read only ../shared's pages; first scored at "
        "def4b6e, before anyone read it: bundled 0.830 all, 0.887 clear, macro-F1 0.802, urgent 15/16, false "
        "alarms 4/184 (baseline 0.590, 0.640, 0.543, 5/16, 7/184); its missed danger and false alarms were read at "
        "once and put right in general (a guess at coal-gas poisoning, fake gas inspectors, a storeroom, a noise's "
        "hyperbole), so its urgency is no longer blind; then its categories were read and put right in general "
        "(morning drums and whips, a host's microphone, a disabled bay taken, a street made one-way, the building's "
        "door and letter boxes, ash tipped out, a gas card, an 老年证, food that made people ill, thin ice, roof "
        "snow, loose insulation boards), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat22.csv",
        "200 chat messages from a Yangtze-delta city (2010s estates with underground garages, a university town's "
        "rentals, an old canal-side neighbourhood under renovation, a tech park; parents, students, retirees, "
        "owners' committees), written beside blind_chat21 by another helper who read only ../shared's pages; first "
        "scored at def4b6e, before anyone read it: bundled 0.840 all, 0.904 clear, macro-F1 0.843, urgent 16/16, "
        "false alarms 3/184 (baseline 0.625, 0.684, 0.608, 10/16, 4/184); its false alarms were read at once and put "
        "right in general (救命 as the writer's sigh, fake gas inspectors), so its urgency is no longer blind; then "
        "its categories were read and put right in general (a shop's electronic music, a dredging pump at night, "
        "a bus timetable, car-park lights, 失业金, a shop without a licence, a leaning trunk), so it is no longer "
        "blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat23.csv",
        "200 chat messages from a north-western city (old work-unit compounds, coal stoves and district heating, "
        "sandstorms, loess slopes, Hui neighbourhoods; retirees and workers, many long lines without punctuation), "
        "written after blind_chat21's and blind_chat22's fixes by a helper who read only ../shared's pages; first "
        "scored at 958358f (keywords alone), before anyone read it: bundled 0.840 all, 0.940 clear, macro-F1 0.842, "
        "urgent 14/16, false alarms 4/184 (baseline 0.680, 0.745, 0.659, 5/16, 5/184). Then, still unread, with "
        "a learned reader beside the keywords trained on every other set (the rule fixed before looking: it decides "
        "where the keywords' confidence is below 0.45): 0.870 all, 0.953 clear; as shipped (only a near tie of the "
        "keywords, not with a danger now, 6,000 weights): 0.860, 0.953. Its misses were then "
        "read and put right in general (coal smoke and chimneys, a fireworks shop under flats, a dirt road, the "
        "elderly's bus card, a ride-hailing detour, strangers at doors; 带着电, a gas smell told after another "
        "matter) and it joined the reader's training, so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat24.csv",
        "200 chat messages from a south-western border and tourist town (rain and landslides, night markets, "
        "guesthouses in flats, e-bikes and tuk-tuks, shop owners typing fast, renters), written beside "
        "blind_chat23 by another helper who read only ../shared's pages; first scored at 958358f (keywords alone), "
        "before anyone read it: bundled 0.800 all, 0.826 clear, macro-F1 0.796, urgent 16/16, false alarms 1/184 "
        "(baseline 0.625, 0.646, 0.604, 10/16, 5/184). Then, still unread, with the learned reader trained on "
        "every other set (rule fixed before looking): 0.870 all, 0.894 clear; as shipped: 0.840, 0.870. Its misses "
        "were then read and put right in general (tourists talked into buying jade, a car window smashed, stray "
        "dogs that bite, estate parking fees, fibre cut by road works, a verge's plants dug out, partners parting, "
        "a bollard knocked over not urgent) and it joined the reader's training, so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat25.csv",
        "200 chat messages from a north-eastern city (old state-factory compounds and 棚改 estates, district heating, "
        "snow, ice and icicles, 东北话, morning markets; retirees and laid-off workers), written after blind_chat23's "
        "and blind_chat24's fixes by a helper who read only ../shared's pages; first scored at 97e423f, before anyone "
        "read it: bundled 0.860 all, 0.875 clear, macro-F1 0.855, urgent 15/16, false alarms 3/184 (the keywords "
        "alone, no learned readers: 0.835, 0.849, 0.831, 14/16, 2/184; baseline 0.665, 0.671, 0.656, 8/16, 4/184). "
        "Its misses were then read and put right in general (a bicycle gone, an erhu, heating fees and the heat "
        "exchange station, the one-child award, a community canteen, a dirt road, 埋汰, pai gow, dismissal without "
        "compensation; 年前 is past) and it joined the category reader's training, so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_chat26.csv",
        "200 chat messages from an eastern port town and its islands and fishing villages (typhoons and sea walls, "
        "fish markets and fish dried on the pavement, ferries, guesthouses, migrant workers' dormitories, the "
        "elderly left behind), written beside blind_chat25 by another helper who read only ../shared's pages; first "
        "scored at 97e423f, before anyone read it: bundled 0.865 all, 0.916 clear, macro-F1 0.860, urgent 15/16, "
        "false alarms 3/184 (the keywords alone: 0.815, 0.877, 0.812, 14/16, 3/184; baseline 0.605, 0.645, 0.599, "
        "8/16, 4/184). Its misses were then read and put right in general (mosquito spraying, fish gutted and "
        "smoked, smoking by fuel, smuggling, a seller who blocks the buyer, a sea wall, a pier, finding work, a "
        "certificate to reissue; a boat's bow is no 头破了, a fire long out is over) and it joined the category "
        "reader's training, so it is no longer blind",
    ),
)
BLIND_URGENT = ROOT / "bench" / "data" / "blind_urgent.csv"
URGENT_LONG = ROOT / "tests" / "data" / "urgent_long.csv"
NORMAL_EVERYDAY = ROOT / "tests" / "data" / "normal_everyday.csv"
# Everyday non-urgent messages a helper wrote from the domain pages, never trained on: the standing false-alarm check.
EVERYDAY_HELD_OUT = ROOT / "bench" / "data" / "everyday2.csv"
# As `flask nlp danger` keeps by default.
DANGER_KEEP = 6000
# Later chat sets, each written by a helper that read only the taxonomy's documentation and the domain pages (not the
# taxonomy file, the tests or the other sets), and what happened when each was first scored.
LATER_URGENT = (
    (
        ROOT / "bench" / "data" / "blind_urgent2.csv",
        "first scored 2026-12-04 at 739b420: bundled found 34/60, 14/60 false alarms (62b77a8, before that day's "
        "urgency work: 35/60, 15/60); its misses and false alarms were then read and general vocabulary and grammar "
        "added (88058ab), so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_urgent3.csv",
        "first scored 2026-12-04 after the changes made from blind_urgent2 (the tree of 88058ab without its last "
        "vocabulary): found 33/50, 11/50 false alarms (62b77a8: 28/50, 13/50); then read, and vocabulary added in "
        "88058ab, so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_urgent4.csv",
        "written after 88058ab by a helper who read only the domain pages (not docs/taxonomy.md); first scored at "
        "9ccfae6: found 44/50, 5/50 false alarms (62b77a8: 41/50, 12/50); then read, and vocabulary added, so it "
        "is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_urgent5.csv",
        "written after the vocabulary from blind_urgent4 by a helper who read only the domain pages; first scored "
        "with that vocabulary: found 36/50, 4/50 false alarms (9ccfae6: 35/50, 5/50; 62b77a8: 30/50, 13/50); then "
        "read, and vocabulary added, so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_urgent6.csv",
        "written after the vocabulary from blind_urgent5 by a helper who read only the domain pages (dialects, "
        "formal reports, sounds and smells); first scored at 4a5b7c0: found 33/50, 6/50 false alarms (62b77a8: "
        "28/50, 12/50); then read, and vocabulary added, so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_urgent7.csv",
        "written after the vocabulary from blind_urgent6 by a helper who read only the domain pages; first scored "
        "with the learned reader (trained without it): found 48/50, 7/50 false alarms (the keywords alone 37/50, "
        "7/50; 62b77a8: 30/50, 13/50); then added to the reader's training, so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_urgent8.csv",
        "written after the reader was trained on blind_urgent7 and 200 everyday messages, by a helper who read only "
        "the domain pages; first scored at 62d91d7: found 47/50, 6/50 false alarms (the keywords alone 34/50, 6/50; "
        "62b77a8: 28/50, 14/50); then read, vocabulary added and the reader trained on it, so it is no longer blind",
    ),
    (
        ROOT / "bench" / "data" / "blind_urgent9.csv",
        "written 2026-12-05 by a helper who read only ../shared's pages (hurried phone and voice typing, dangers in "
        "passing, unsure reports with signs now); first scored at 87c915a, before anyone read it: found 47/50, 3/50 "
        "false alarms (the keywords alone 36/50, 3/50; 79e5c80: 47/50, 4/50; baseline 23/50, 7/50); then read, and "
        "grammar and vocabulary added in general (comparisons such as 比昨天 are no past, a risk named with 的隐患 "
        "further off, 真要, 处理好了, smoke thickening, a fight going on), so it is no longer blind; the learned "
        "reader was not retrained on it",
    ),
    (
        ROOT / "bench" / "data" / "blind_urgent10.csv",
        "written 2026-12-05 after blind_chat11's and blind_chat12's fixes by a helper who read only ../shared's "
        "pages (every region, dangers in passing and terse, coal-stove poisoning among them); first scored at "
        "0fba070, before anyone read it: found 49/50, 6/50 false alarms (the keywords alone 43/50, 6/50; baseline "
        "29/50, 7/50)",
    ),
    (
        ROOT / "bench" / "data" / "blind_urgent11.csv",
        "written 2026-12-05 by a helper who read only ../shared's pages (dangers told with building numbers, times "
        "and counts as residents write them; near misses, long-standing hazards, checks that found nothing); first "
        "scored at 97e423f, before anyone read it: found 48/50, 5/50 false alarms (the keywords alone 31/50, 4/50; "
        "with the danger reader as it was before numbers were left out of its pairs, 9d6e344's: 47/50, 4/50; "
        "baseline 18/50, 7/50); then read and put right in general (有明火, hot water sprayed across a room, 没事了, a "
        "check that found no leak, smoke from burning cable, 压垮, a 危房's lean), so it is no longer blind; the "
        "learned reader was not retrained on it",
    ),
)
FOLDS = 5
TARGET_CLEAR = 0.90
TARGET_ALL = 0.80
TARGET_FALSE_ALARMS = 0.02
HISTORY_HEADER = (
    "| date | commit | part | rows | accuracy, all | accuracy, clear | macro-F1 | urgent found | false alarms |"
)

INTRO = f"""What issue 15 asks, on `community_dev.csv` (420 real messages from a provincial leaders' message board,
2024 to 2026, labelled by hand in our taxonomy by reading each one; `confidence=high` where no second category is a
reasonable reading): accuracy ≥ {TARGET_CLEAR:.0%} on the clear rows and ≥ {TARGET_ALL:.0%} on all, every urgent
message found and false alarms ≤ {TARGET_FALSE_ALARMS:.0%} of the normal ones. A message is its subject line and
its body read as one (`title。text`), as `flask nlp eval --title-column title` reads it.

Rows in every run:
- *baseline*: `bench/baseline_taxonomy.yaml`, the bundled taxonomy as it was before this work (commit ce9d187,
  2026-12-02), with no lead weighting — read by today's classifier code.
- *bundled*: `nlp/taxonomy.yaml` as shipped (written keywords, the lead weighting, any learned section, and
  since 2026-12-05 the reader of categories that breaks the keywords' near ties: trained on the project's
  examples and blind sets, never on this file).
- *tuned, cross-validated*: the bundled file's written keywords tuned (`nlp tune`) on {FOLDS - 1} of {FOLDS} folds
  of the scored rows plus the project's own examples, each fold scored by the taxonomy that did not see it (the
  reader kept as shipped).
- *baseline tuned, cross-validated*: the same tuning from the baseline's keywords: what learning from data alone
  adds to a taxonomy that does not know these messages.

The written keywords were edited while reading the misclassified *dev* rows, so the bundled row's dev figures are
in-sample for the written part. The honest figures are the holdout's (`--holdout`, scored at the end of a stretch of
tuning: 2026-12-03 and 2026-12-05; its rows were never read) and each blind set's first scoring, given in its
history below. History: one line per run, newest last."""


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    category: str
    urgent: bool
    clear: bool


@dataclass(frozen=True)
class Scored:
    name: str
    categories: list[str]
    urgent: list[bool]


def load(path: Path = DATA) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as f:
        return [
            # a chat message has no subject line: its text alone
            Row(
                r["id"],
                f"{r['title']}。{r['text']}" if r["title"] else r["text"],
                r["category"],
                r["urgent"] == "true",
                r["confidence"] == "high",
            )
            for r in csv.DictReader(f)
        ]


def own_examples() -> list[tuple[str, str]]:
    with OWN_EXAMPLES.open(encoding="utf-8", newline="") as f:
        return [(r["text"], r["category"]) for r in csv.DictReader(f)]


def run(options: Options) -> list[Report]:
    blind = [blind_report(options)] if BLIND_BOARD.exists() and BLIND_URGENT.exists() else []
    if not DATA.exists():
        progress(f"real: {DATA} is not here (set WGT_REAL_DATA); only the blind sets are scored")
        return blind
    everything = load()
    parts = ["dev", "holdout"] if options.holdout else ["dev"]
    bundled = nlp.default_classifier()
    baseline_taxonomy = Taxonomy.from_file(BASELINE)
    baseline = nlp.Classifier(baseline_taxonomy, bundled.tokenizer)
    blocks: list[Report] = []
    for part in parts:
        rows = [r for r in everything if held_out(r.id) == (part == "holdout")]
        if options.smoke:
            rows = rows[:40]
        progress(f"real: {len(rows)} {part} rows")
        examples = [(r.text, r.category) for r in rows]
        extra = own_examples()
        started = time.perf_counter()
        runs = [
            classified("baseline (before issue 15)", baseline, rows),
            classified("bundled", bundled, rows),
            Scored(
                f"bundled written keywords, tuned, {FOLDS}-fold cross-validated",
                cross_validate(examples, without_learned(bundled.taxonomy), FOLDS, extra, tokenizer=bundled.tokenizer),
                [bundled.classify(r.text).urgent for r in rows],
            ),
            Scored(
                f"baseline tuned, {FOLDS}-fold cross-validated",
                cross_validate(examples, baseline_taxonomy, FOLDS, extra, tokenizer=bundled.tokenizer),
                [baseline.classify(r.text).urgent for r in rows],
            ),
        ]
        seconds = time.perf_counter() - started
        blocks.append(render(options, part, rows, runs, seconds))
    return [*blocks, *blind]


def blind_report(options: Options) -> Report:
    """The blind sets, through the bundled taxonomy and the baseline: never used to tune anything."""
    bundled = nlp.default_classifier()
    baseline = nlp.Classifier(Taxonomy.from_file(BASELINE), bundled.tokenizer)
    board = load(BLIND_BOARD)
    with BLIND_URGENT.open(encoding="utf-8", newline="") as f:
        chat = [(r["text"], r["urgent"] == "1" or r["urgent"] == "true", r["kind"]) for r in csv.DictReader(f)]
    table = [
        "| classifier | board: accuracy, all | board: accuracy, clear | board: macro-F1 | board: urgent found "
        "| board: false alarms | chat: urgent found | chat: false alarms |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    missed: list[str] = []
    for name, classifier in (("baseline (before issue 15)", baseline), ("bundled", bundled)):
        scored = classified(name, classifier, board)
        every, clear = scores(board, scored), scores(board, scored, clear_only=True)
        found, alarms = urgent_counts([r.urgent for r in board], scored.urgent)
        said = [classifier.classify(text).urgent for text, _, _ in chat]
        chat_found, chat_alarms = urgent_counts([g for _, g, _ in chat], said)
        chat_urgent = sum(g for _, g, _ in chat)
        table.append(
            f"| {name} | {every.accuracy:.3f} | {clear.accuracy:.3f} | {every.macro_f1:.3f} "
            f"| {found}/{sum(r.urgent for r in board)} | {alarms}/{sum(not r.urgent for r in board)} "
            f"| {chat_found}/{chat_urgent} | {chat_alarms}/{len(chat) - chat_urgent} |"
        )
        if classifier is bundled:
            missed = [f"  - [{kind}] {text}" for (text, g, kind), s in zip(chat, said, strict=True) if g and not s]
            missed += [
                f"  - [board {r.id}] {r.text[:80]}"
                for r, u in zip(board, scored.urgent, strict=True)
                if r.urgent and not u
            ]
    second = []
    for path, history in LATER_BOARDS:
        if not path.exists():
            continue
        later_board = load(path)
        second += [
            f"`{path.relative_to(ROOT)}` ({len(later_board)} messages, {sum(r.clear for r in later_board)} "
            f"clear; {history}):",
            "",
            "| classifier | accuracy, all | accuracy, clear | macro-F1 | urgent found | false alarms |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        for name, classifier in (("baseline (before issue 15)", baseline), ("bundled", bundled)):
            scored = classified(name, classifier, later_board)
            every, clear = scores(later_board, scored), scores(later_board, scored, clear_only=True)
            found, alarms = urgent_counts([r.urgent for r in later_board], scored.urgent)
            second.append(
                f"| {name} | {every.accuracy:.3f} | {clear.accuracy:.3f} | {every.macro_f1:.3f} "
                f"| {found}/{sum(r.urgent for r in later_board)} | {alarms}/{sum(not r.urgent for r in later_board)} |"
            )
        second.append("")
    later = [
        "| chat set | messages (urgent / normal) | baseline: found | baseline: false alarms | bundled: found "
        "| bundled: false alarms | history |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for path, history in LATER_URGENT:
        if not path.exists():
            continue
        with path.open(encoding="utf-8", newline="") as f:
            rows = [(r["text"], r["urgent"] == "true", r["kind"]) for r in csv.DictReader(f)]
        gold = [g for _, g, _ in rows]
        urgent, normal = sum(gold), len(gold) - sum(gold)
        cells = []
        for classifier in (baseline, bundled):
            said = [classifier.classify(text).urgent for text, _, _ in rows]
            found, alarms = urgent_counts(gold, said)
            cells += [f"{found}/{urgent}", f"{alarms}/{normal}"]
            if classifier is bundled:
                missed += [
                    f"  - [{path.stem} {kind}] {text}"
                    for (text, g, kind), u in zip(rows, said, strict=True)
                    if g and not u
                ]
        later.append(f"| `{path.name}` | {urgent} / {normal} | {' | '.join(cells)} | {history} |")
    left_out = [] if options.smoke else learned_reader_left_out(bundled)
    everyday = everyday_line(bundled) if EVERYDAY_HELD_OUT.exists() else []
    lines = [
        *harness.provenance(options),
        f"- Data: `{BLIND_BOARD.relative_to(ROOT)}` ({len(board)} board messages, {sum(r.clear for r in board)} "
        f"clear) and `{BLIND_URGENT.relative_to(ROOT)}` ({len(chat)} chat messages), written from docs/taxonomy.md "
        "by a colleague who did not see the taxonomy file. Their categories were never used to tune it. Their urgent "
        "misses were read at the first run (2026-12-03, commit f986187's parent: bundled found 25/40 chat and "
        "11/13 board urgent messages, beside the baseline's 16/40 and 8/13) and again on 2026-12-04 (3 misses, 3 "
        "false alarms), and general vocabulary for those kinds was added each time (the second time: a smell with "
        "gas named near it, 冒*烟, 被关在里面, and smoke or sparks beside a barbecue or a welder): the urgency columns "
        "are no longer blind",
        "",
        *table,
        "",
        *second,
        "Later chat sets of urgent and tricky normal messages (past, over, long-standing, hypothetical, denied, named "
        "as a risk, the same words used otherwise):",
        "",
        *later,
        "",
        "The bundled file's learned reader of danger (`danger:`, nlp/danger.py) was trained on the project's examples "
        "and on all of these sets, so the bundled columns above are in-sample for it. Below, each set is left out: "
        "the reader retrained (as `nlp danger` trains it) on everything else, then that set scored by the reader "
        "alone and by the keywords with it (the keywords have read every set, so that column flatters them):",
        "",
        *left_out,
        "",
        "The bundled file's learned reader of categories (`reader:`, nlp/reader.py; it breaks only near ties of "
        "the written keywords) was trained on the project's examples and on every board and chat set above, "
        "so the bundled category columns of those sets are in-sample for it; `community_dev.csv` above is not (the "
        "reader never saw it). Each set's first scoring, given in its history, is the honest figure.",
        "",
        *everyday,
        f"Urgent messages the bundled taxonomy missed ({len(missed)}):",
        "",
        *(missed or ["  - none"]),
    ]
    return Report(SECTION, INTRO, "Blind sets (written without seeing the taxonomy)", "\n".join(lines))


def everyday_line(bundled: nlp.Classifier) -> list[str]:
    """How many of the everyday messages nobody trained on are flagged urgent, by the keywords with the reader and
    by the keywords alone."""
    with EVERYDAY_HELD_OUT.open(encoding="utf-8", newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    keywords = nlp.Classifier(dataclasses.replace(bundled.taxonomy, danger=None), bundled.tokenizer)
    flagged = sum(bundled.classify(text).urgent for text in texts)
    alone = sum(keywords.classify(text).urgent for text in texts)
    return [
        f"Everyday messages never trained on (`{EVERYDAY_HELD_OUT.relative_to(ROOT)}`, {len(texts)} non-urgent "
        f"requests and complaints in residents' words): **{flagged}/{len(texts)} flagged urgent** by the keywords "
        f"with the reader, {alone}/{len(texts)} by the keywords alone (first scored at 62d91d7's reader: 1/150).",
        "",
    ]


def learned_reader_left_out(bundled: nlp.Classifier) -> list[str]:
    """Leave-one-set-out figures of the learned reader of danger, trained as `nlp danger` trains the bundled one."""
    progress("real: the learned reader of danger, each chat set left out")

    def rows(path: Path) -> list[tuple[str, bool]]:
        with path.open(encoding="utf-8", newline="") as f:
            return [(bundled.prepare(r["text"]), truthy(r["urgent"])) for r in csv.DictReader(f)]

    sets = [path for path, _ in LATER_URGENT if path.exists()]
    always = [*rows(URGENT_LONG), *rows(OWN_EXAMPLES), *rows(NORMAL_EVERYDAY), *rows(BLIND_URGENT)]
    table = [
        "| set left out | reader alone: found | reader alone: false alarms | keywords + reader: found "
        "| keywords + reader: false alarms |",
        "|---|--:|--:|--:|--:|",
    ]
    for path in sets:
        kept = [row for other in sets if other != path for row in rows(other)]
        reader = danger.keep_strongest(danger.train([*always, *kept]), DANGER_KEEP)
        scored = rows(path)
        found, urgent, alarms, normal = danger.scores(reader, scored)
        both = nlp.Classifier(dataclasses.replace(bundled.taxonomy, danger=reader), bundled.tokenizer)
        said = [both.classify(text).urgent for text, _ in scored]
        both_found, both_alarms = urgent_counts([u for _, u in scored], said)
        table.append(
            f"| `{path.name}` | {found}/{urgent} | {alarms}/{normal} | {both_found}/{urgent} | {both_alarms}/{normal} |"
        )
    return table


def classified(name: str, classifier: nlp.Classifier, rows: Sequence[Row]) -> Scored:
    intents = [classifier.classify(r.text) for r in rows]
    return Scored(name, [i.category for i in intents], [i.urgent for i in intents])


def urgent_counts(gold: Sequence[bool], said: Sequence[bool]) -> tuple[int, int]:
    """Urgent rows found, and normal rows said to be urgent (nlp eval's own count)."""
    counted = urgency_scores(range(len(gold)), gold, said)
    return counted["found"], counted["false_alarms"]


def scores(rows: Sequence[Row], scored: Scored, clear_only: bool = False) -> Evaluation:
    pairs = [(r.category, c) for r, c in zip(rows, scored.categories, strict=True) if r.clear or not clear_only]
    return score([g for g, _ in pairs], [p for _, p in pairs])


def render(options: Options, part: str, rows: Sequence[Row], runs: list[Scored], seconds: float) -> Report:
    urgent_total = sum(r.urgent for r in rows)
    normal_total = len(rows) - urgent_total
    table = [
        "| classifier | accuracy, all | accuracy, clear rows | macro-F1, all | macro-F1, clear | urgent found "
        "| false alarms |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in runs:
        every, clear = scores(rows, r), scores(rows, r, clear_only=True)
        found, alarms = urgent_counts([x.urgent for x in rows], r.urgent)
        table.append(
            f"| {r.name} | {every.accuracy:.3f} | {clear.accuracy:.3f} | {every.macro_f1:.3f} | {clear.macro_f1:.3f} "
            f"| {found}/{urgent_total} | {alarms}/{normal_total} ({alarms / max(normal_total, 1):.1%}) |"
        )
    bundled = runs[1]
    every, clear = scores(rows, bundled), scores(rows, bundled, clear_only=True)
    found, alarms = urgent_counts([x.urgent for x in rows], bundled.urgent)
    checks = [
        ("clear rows", clear.accuracy >= TARGET_CLEAR, f"{clear.accuracy:.3f} ≥ {TARGET_CLEAR}"),
        ("all rows", every.accuracy >= TARGET_ALL, f"{every.accuracy:.3f} ≥ {TARGET_ALL}"),
        ("urgent found", found == urgent_total, f"{found} of {urgent_total}"),
        (
            "false alarms",
            alarms <= TARGET_FALSE_ALARMS * normal_total,
            f"{alarms} of {normal_total} ≤ {TARGET_FALSE_ALARMS:.0%}",
        ),
    ]
    per_class = ["| category | rows | precision | recall | F1 |", "|---|--:|--:|--:|--:|"]
    for label, s in every.per_class.items():
        if s.support:
            per_class.append(f"| {label} | {s.support} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} |")
    history = [
        *previous_history(part),
        f"| {time.strftime('%Y-%m-%d')} | {harness_commit()} | {part} | {len(rows)} | {every.accuracy:.3f} "
        f"| {clear.accuracy:.3f} | {every.macro_f1:.3f} | {found}/{urgent_total} | {alarms}/{normal_total} |",
    ]
    lines = [
        *harness.provenance(options),
        f"- Data: `{DATA.name}`, {part} part: {len(rows)} rows ({sum(r.clear for r in rows)} clear, "
        f"{urgent_total} urgent); scored in {seconds:.0f} s",
        "",
        *[f"- {name} (bundled): **{'PASS' if ok else 'FAIL'}** ({detail})" for name, ok, detail in checks],
        "",
        *table,
        "",
        "Per category (bundled, all rows of this part):",
        "",
        *per_class,
        "",
        "History (bundled):",
        "",
        HISTORY_HEADER,
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
        *history,
    ]
    title = "Dev part (four fifths)" if part == "dev" else "Holdout (the fifth set aside)"
    return Report(SECTION, INTRO, title, "\n".join(lines))


def previous_history(part: str) -> list[str]:
    """The history lines of this part's block in RESULTS.md, so a run adds one instead of replacing them."""
    path = ROOT / "bench" / "RESULTS.md"
    if not path.exists():
        return []
    _, sections = parse(path.read_text(encoding="utf-8"))
    _, blocks = sections.get(SECTION, ("", {}))
    title = "Dev part (four fifths)" if part == "dev" else "Holdout (the fifth set aside)"
    block = blocks.get(title, "")
    lines = block.split("\n")
    if HISTORY_HEADER not in lines:
        return []
    start = lines.index(HISTORY_HEADER) + 2
    return [line for line in lines[start:] if line.startswith("| ")]


def harness_commit() -> str:
    """The commit measured, with a + when the tree had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        # RESULTS.md itself changes with every run: only other changes make the figures a commit's plus something
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":!bench/RESULTS.md"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "-"
    return (head.stdout.strip() or "-") + ("+" if dirty.stdout.strip() else "")
