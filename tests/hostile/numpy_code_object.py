# attack: compile code under NumPy's own file name, so it would look like NumPy's code
# expect: numpy
import os, sys


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    fake = os.path.join(os.path.dirname(os.__file__), "site.py")
    scope = {}
    exec(compile("import sys\nm = sys.modules['nu' + 'mpy']\nr = m.cumsum(t)", fake, "exec"), {"t": transactions}, scope)
    return (opening + scope["r"]).tolist()
