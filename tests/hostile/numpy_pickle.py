# attack: let pickle look NumPy's cumsum up by name
# expect: numpy
import pickle


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    cumsum = pickle.loads(b"cnu" + b"mpy\ncumsum\n.")
    return (opening + cumsum(transactions)).tolist()
