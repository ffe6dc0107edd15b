"""The demo tenant and the embedded servers of `podium dev`; the simulator's sample files."""
