# attack: open the process's own memory through /proc/self/mem (to rewrite the sandbox's checks)
# expect: result_error exe_error
# needs: mounts
def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    with open("/proc/self/mem", "r+b") as handle:
        handle.seek(id(qel))
        return [len(handle.read(16))]
