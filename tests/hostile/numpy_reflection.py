# attack: read NumPy's functions through the module's __dict__ (vars) instead of attributes
# expect: numpy
import sys


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    found = [module for name, module in sys.modules.items() if name == "nu" + "mpy"]
    cumsum = vars(found[0])["cumsum"]
    return (opening + cumsum(transactions)).tolist()
