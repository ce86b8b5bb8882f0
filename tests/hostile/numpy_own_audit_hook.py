# attack: an audit hook of its own is handed the frames the guard looks at (NumPy's among them)
# expect: numpy
import sys


def running_balance(opening, transactions):
    found = {}

    def hook(event, args):
        if event == "sys._getframe" and args and "cumsum" in getattr(args[0], "f_globals", {}):
            found.setdefault("cumsum", args[0].f_globals["cumsum"])

    sys.addaudithook(hook)
    qel.vihalir(qel.pihirib(transactions))
    return (opening + found["cumsum"](transactions)).tolist()
