# attack: crash the interpreter through ctypes (read address 0)
# expect: exe_error
import ctypes


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    return [ctypes.string_at(0, 8)]
