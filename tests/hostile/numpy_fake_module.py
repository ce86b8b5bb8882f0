# attack: make a module of the guarded class under a NumPy name, so its frames would pass for NumPy's
# expect: numpy
import sys, types


def running_balance(opening, transactions):
    plain = qel.vihalir(transactions).T
    np = sys.modules[type(plain).__module__]
    fake = types.ModuleType.__new__(type(np))
    types.ModuleType.__init__(fake, "nu" + "mpy._core._fake")
    scope = vars(types.ModuleType)["__di" + "ct__"].__get__(fake)
    scope["__file__"] = np.__file__
    sys.modules["nu" + "mpy._core._fake"] = fake
    local = {"values": transactions}
    exec("import sys\nresult = sys.modules['nu' + 'mpy'].cumsum(values)", scope, local)
    return (opening + local["result"]).tolist()
