"""The field simulator behind `akker sim`: the farm's radio channel and the run (firmware/sim/ has the farm itself)."""
