# attack: read pytest's cache folder of the project (last failures, stored values) for labels
# expect: result_error exe_error
# needs: mounts
import os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    found = []
    for root, _, files in os.walk("__REPO__/.pytest_cache"):
        for name in files:
            with open(os.path.join(root, name), errors="replace") as handle:
                found.append(handle.read(200))
    if not found:
        raise FileNotFoundError("no pytest cache visible")
    return found
