"""The demo community: its grids and people (grids.csv, people.csv, imported by `flask --app app seed-demo`), what
its residents write (`demo.complaints`) and how its grids route the place dev set (`demo.places`).

The modules are for the benchmarks and the tests alike, which must not import each other; the app never imports them.
"""
