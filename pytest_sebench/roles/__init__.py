"""The plugin's hooks, one object per role (as pytest-xdist splits its controller from its workers).

The worker collects the items and grades them (``worker.py``); the controller gathers their records,
shows progress and the summary, writes the outputs and sets the exit status (``controller.py``). With
``-n0`` the one process registers both; under xdist the controller registers only its own.
"""
