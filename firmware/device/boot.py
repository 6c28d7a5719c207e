# boot.py, deployed by `akker deploy`: nothing to set up before main.py. It replaces whatever
# boot.py the board came with, so that only what was deployed runs.
