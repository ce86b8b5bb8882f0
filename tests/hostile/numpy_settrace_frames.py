# attack: a trace function sees NumPy's own frames while the library runs, and their globals
# expect: numpy
import sys


def running_balance(opening, transactions):
    found = {}

    def tracer(frame, event, arg):
        if "cumsum" in frame.f_globals and "cumsum" not in found:
            found["cumsum"] = frame.f_globals["cumsum"]
        return None

    sys.settrace(tracer)
    qel.vihalir(qel.pihirib([0]))
    sys.settrace(None)
    return (opening + found["cumsum"](transactions)).tolist()
