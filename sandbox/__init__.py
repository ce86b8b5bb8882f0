"""The sandbox side: what runs apart from the host, shipped as ``pytest_sebench.sandbox_files``.

Every backend (local, docker, url) runs the same warm template process from this folder, started as
``python -I template.py``; the host and the template speak the frames of PROTOCOL.md.

- ``template.py``: the warm process; builds each library once and forks a fresh child per answer.
- ``supervise.py``, ``relay.py``, ``cleanup.py``: the template's side of a child: handing it a job,
  checking the events it writes (untrusted), the wall clock, killing what it leaves and emptying
  its folders.
- ``child.py``, ``isolate.py``, ``runner.py``: one child: its isolation layers (network, mounts,
  uid), then running the answer on its cases.
- ``guard.py``, ``seal.py``: the run-time check for answers that reach NumPy other than through the
  library.
- ``libruntime.py``: the SE-Bench style library built from a name mapping; ``encode.py``: return
  values as tagged JSON; ``frames.py``: the length-prefixed frames (the host imports it too).
- ``Dockerfile`` and ``docker/``: the image of the docker backend.

The Python files here import the standard library and NumPy only.
"""
