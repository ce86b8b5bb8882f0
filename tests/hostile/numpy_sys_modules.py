# attack: take NumPy from sys.modules (the library imported it already), no import statement
# expect: numpy
import sys


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    np = sys.modules["".join(["nu", "mp", "y"])]
    return (opening + np.cumsum(transactions)).tolist()
