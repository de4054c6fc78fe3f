"""The service rules' numbers, in one place: what a street office would ask to change, and what the texts promise.

config.py is how a deployment runs (addresses, keys, limits of the machine); this is how the service behaves for
residents, workers and the centre. The texts that state a number (评价提醒 says when a ticket closes by itself)
read it from here, so a change cannot leave a promise behind. Time limits per category are nlp/taxonomy.yaml's.
"""

from __future__ import annotations

from datetime import timedelta

# -- rating (居民评单) ------------------------------------------------------------------------------------------
# A rating this low or lower reopens the ticket (不满意 is 1) and asks the centre to call back.
REOPEN_AT_OR_BELOW = 2
# A rating this high or higher counts as satisfied in 满意率 (满意 5, 基本满意 3; docs/metrics.md).
SATISFIED_AT_OR_ABOVE = 3
# An unrated resolved ticket: the first reporter is reminded, then it closes with no rating.
RATE_REMIND_AFTER = timedelta(days=3)
AUTO_CLOSE_AFTER = timedelta(days=7)

# -- the clocks' stages (handlers/sla.py), as fractions of the limit ----------------------------------------------
REMIND_AT = 0.5  # 接单提醒
ESCALATE_AT = 1.0  # 超时未接单: the centre hears
WARN_AT = 0.8  # 临期
# A late ticket climbs the organisation tree (docs/organisation.md): each centre hears once, at its multiple of the
# limit; a deployment without a tree has one centre, which hears at each.
OVERDUE_AT = 1.0  # 已超时: 督办, the community's centre hears
VERY_LATE_AT = 2.0  # 超时2倍: the street's centre hears
BADLY_LATE_AT = 3.0  # 严重超时: the district's centre hears

# -- extensions (延期) -----------------------------------------------------------------------------------------
MAX_EXTENSIONS = 1  # a worker may ask this often per ticket; the centre can always extend directly
MAX_EXTENSION_DAYS = 30

# -- one problem, many messages -----------------------------------------------------------------------------
# A complaint like an open ticket of the same grid and category opened this recently is linked to it.
DUPLICATE_WINDOW = timedelta(hours=72)
# Urgent reports of one place this close together are one emergency (60 copies of a fire report made 60 tickets).
URGENT_WINDOW = timedelta(hours=2)
# At most one "more residents report it" alert per ticket in this long; it says the total when it goes out.
LINK_ALERT_INTERVAL = timedelta(minutes=5)
# Photos and shared locations this soon after a complaint belong to it; a worker's photo this soon after 办结 is
# the after-photo.
ATTACH_WINDOW = timedelta(minutes=30)
AFTER_PHOTO_WINDOW = timedelta(minutes=30)
# A resident's 催办 of one ticket reaches the group at most this often.
URGE_INTERVAL = timedelta(hours=2)

# -- the centre ------------------------------------------------------------------------------------------------
# 回访 lists tickets resolved this many days back that are worth a call.
CALLBACK_DAYS = 7

# -- the resident app ---------------------------------------------------------------------------------------
# Photos one resident may upload in an hour (a report takes at most 9).
PHOTOS_PER_HOUR = 60
