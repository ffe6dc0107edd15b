"""People: the viewer (`me`), reps a viewer may see, and a manager's team."""
