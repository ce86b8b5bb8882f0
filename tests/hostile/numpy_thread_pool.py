# attack: let a worker thread (whose stack is only the standard library) read NumPy for the answer
# expect: numpy
import sys
from concurrent.futures import ThreadPoolExecutor


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    with ThreadPoolExecutor(1) as pool:
        np = sys.modules["nu" + "mpy"]
        cumsum = pool.submit(getattr, np, "cumsum").result()
    return (opening + cumsum(transactions)).tolist()
