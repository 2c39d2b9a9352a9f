"""Run a command in a terminal (a pseudo-terminal), wait until its output
shows MARKER, type Ctrl+C (the byte 0x03, as a person at the keyboard
does), and wait for it to exit. Under Wine the console turns that key into
a CTRL_C_EVENT for the Windows program, which is what
tokio::signal::ctrl_c() waits for.

The terminal output (Wine's console draws it with cursor escape codes
between characters) is written to LOG without those escape codes.

Usage: ctrl_c.py LOG MARKER TIMEOUT_S COMMAND ARGS...
Exit: the command's exit code; 124 if MARKER never came or the command
did not stop within TIMEOUT_S after Ctrl+C (it is then killed).
"""

import os
import pty
import re
import select
import signal
import sys
import time

ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def main(log, marker, timeout_s, *command):
    timeout_s = float(timeout_s)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], list(command))
    raw = b""
    status = None

    def read_for(seconds, until=None):
        nonlocal raw, status
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                raw += chunk
            if status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(st)
            if status is not None and not ready:
                return True
            if until is not None and until.encode() in ESCAPES.sub(b"", raw):
                return True
        return False

    started = read_for(timeout_s, until=marker) and status is None
    if started:
        time.sleep(1)
        os.write(fd, b"\x03")
        read_for(timeout_s)
    if status is None:
        # pty.fork made the child a session (and group) leader.
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        status = 124
    with open(log, "wb") as out:
        out.write(ESCAPES.sub(b"", raw))
    if not started and status != 124:
        # It exited before it was ready: its own exit code says why.
        return status if status else 124
    return status


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
