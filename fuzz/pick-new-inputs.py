#!/usr/bin/env python3
"""Picks at most N inputs worth committing from a libFuzzer merge control file.

Usage: pick-new-inputs.py CONTROL_FILE N > picked.txt

CONTROL_FILE is what `<target binary> -merge=1 -merge_control_file=CONTROL_FILE COMMITTED NEW` leaves: the
inputs of COMMITTED come first. Picks greedily from NEW, each time the input that adds the most coverage
edges (COV) not reached by COMMITTED or an earlier pick, ties and then the rest by new features (FT), until
N are picked or nothing adds anything. Prints the picked paths, and the totals on stderr.
"""
import sys


def main(control, n):
    lines = open(control).read().split("\n")
    total, first = int(lines[0]), int(lines[1])
    files = lines[2 : 2 + total]
    ft, cov = {}, {}
    for line in lines[2 + total :]:
        parts = line.split()
        if parts and parts[0] in ("FT", "COV"):
            (ft if parts[0] == "FT" else cov)[int(parts[1])] = set(parts[2:])
    have_cov, have_ft = set(), set()
    for i in range(first):
        have_cov |= cov.get(i, set())
        have_ft |= ft.get(i, set())
    base = (len(have_cov), len(have_ft))
    candidates, picked = set(range(first, total)), []

    def gain(i):
        return (len(cov.get(i, set()) - have_cov), len(ft.get(i, set()) - have_ft), -i)

    while len(picked) < n and candidates:
        best = max(candidates, key=gain)
        if gain(best)[:2] == (0, 0):
            break
        picked.append(best)
        candidates.discard(best)
        have_cov |= cov.get(best, set())
        have_ft |= ft.get(best, set())
    every_cov = set().union(*cov.values()) if cov else set()
    every_ft = set().union(*ft.values()) if ft else set()
    print(
        f"committed: cov {base[0]} ft {base[1]}; with {len(picked)} picked: cov {len(have_cov)} "
        f"ft {len(have_ft)}; all inputs: cov {len(every_cov)} ft {len(every_ft)}",
        file=sys.stderr,
    )
    for i in picked:
        print(files[i])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
