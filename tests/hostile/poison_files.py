# attack: rewrite the sandbox's and NumPy's files, and plant start-up files for the next interpreter
# expect: result_error exe_error
# needs: user
import os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    done = []
    for path in ("__SANDBOX_DIR__/libruntime.py", "__SANDBOX_DIR__/runner.py", "__NUMPY_INIT__",
                 "__SITE_PACKAGES__/sitecustomize.py", os.path.expanduser("~/.pythonrc")):
        try:
            with open(path, "a") as handle:
                handle.write("\nraise SystemExit('poisoned')\n")
            done.append(path)
        except OSError:
            pass
    if not done:
        raise PermissionError("nothing could be written")
    return done
