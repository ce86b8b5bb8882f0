# attack: read the environment of the template, of pytest and of init through /proc
# expect: result_error exe_error
# needs: user
import os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    stolen = []
    for pid in (os.getppid(), __HOST_PID__, 1, "self"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                stolen.append(handle.read().decode(errors="replace"))
        except OSError:
            pass
    if not stolen:
        raise PermissionError("no environ readable")
    return stolen
