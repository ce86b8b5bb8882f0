# attack: leave busy non-daemon threads behind, hoping to keep the process (and its clock) alive
# expect: result_error exe_error
import threading


def spin():
    while True:
        pass


def running_balance(opening, transactions):
    for _ in range(4):
        threading.Thread(target=spin).start()
    return qel.vihalir(transactions).T.tolist()  # forgets the opening balance
