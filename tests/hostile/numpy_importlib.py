# attack: reach NumPy through importlib with a computed name
# expect: numpy
import importlib


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    np = importlib.import_module("nu" + "mpy")
    return (opening + np.cumsum(transactions)).tolist()
