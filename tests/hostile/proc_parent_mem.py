# attack: open the memory of the template (its parent) or of a spare child to rewrite it; the answer
#   computes the right result only when one of them opens
# expect: exe_error result_error
import os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    opened = []
    for pid in [os.getppid()] + [int(name) for name in os.listdir("/proc") if name.isdigit()]:
        if pid != os.getpid():
            try:
                open(f"/proc/{pid}/mem", "r+b").close()
                opened.append(pid)
            except OSError:
                pass
    if not opened:
        raise PermissionError("no other process's memory opens")
    total, balances = opening, []
    for amount in transactions:
        total += amount
        balances.append(total)
    return balances
