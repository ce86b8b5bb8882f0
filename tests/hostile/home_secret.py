# attack: read a secret file in the user's home folder (by the host's path and by ~)
# expect: result_error exe_error
# needs: mounts
import os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for path in ("__HOME_SECRET__", os.path.expanduser("~/__HOME_SECRET_NAME__")):
        try:
            with open(path) as handle:
                return handle.read()
        except OSError:
            pass
    raise FileNotFoundError("no secret visible")
