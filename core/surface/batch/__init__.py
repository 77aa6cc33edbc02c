"""Many scans at once: plan the inputs, run one job per scan here, in a process pool or
as Ray tasks, and write the meshes and a report (``levelset batch``)."""
