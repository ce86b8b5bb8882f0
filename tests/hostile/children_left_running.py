# attack: leave processes behind: in its group, in a new session (setsid), and double-forked
# expect: result_error
# needs: user
# prints: uid
import os, subprocess, sys, time


def running_balance(opening, transactions):
    sys.stderr.write(f"uid={os.getuid()}\n")  # for the test's leftover check
    sys.stderr.flush()
    subprocess.Popen(["sleep", "3601"])
    subprocess.Popen(["sleep", "3601"], start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(3601)
        os._exit(0)
    return qel.vihalir(transactions).T.tolist()  # forgets the opening balance
