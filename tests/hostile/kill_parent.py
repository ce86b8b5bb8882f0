# attack: kill the process that started it (the template) and everything in its group
# expect: exe_error error result_error
import os, signal


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    os.kill(os.getppid(), signal.SIGKILL)
    os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)
    return [opening]
