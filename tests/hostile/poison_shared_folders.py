# attack: leave files in shared places (/tmp, /dev/shm, /var/tmp, the working folder) for the next answer
# expect: result_error
# needs: mounts
import os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for folder in ("/tmp", "/dev/shm", "/var/tmp", "."):
        try:
            with open(os.path.join(folder, "sebench-poison-marker"), "w") as handle:
                handle.write("left for the next answer")
        except OSError:
            pass
    return [opening]
