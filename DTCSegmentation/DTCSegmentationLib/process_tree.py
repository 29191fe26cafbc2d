"""A child process and everything it starts, interrupted or killed as one.

Inside 3D Slicer the interpreter for a child is ``PythonSlicer``: a CTK application launcher that
sets up the environment and runs the real interpreter as *its* child (a ``QProcess``), installs no
signal handler and forwards nothing (commontk/AppLauncher Base/ctkAppLauncher.cpp ``runProcess``).
An interrupt or a kill aimed at the process we started therefore ends the launcher (SIGINT's
default action) and leaves the interpreter running.  Here the child is started as the leader of a
new group - a new session on POSIX, where the launcher's ``QProcess`` children stay in it; a new
process group plus a job object on Windows - and signals go to the whole group.

Windows is written from the Win32 documentation and has not been run: ``CTRL_BREAK_EVENT`` reaches
every process of the group that shares the console; a kill terminates the job (every process
assigned to it and their later children), or, if the job could not be made, ``taskkill /T`` from the
launcher down (which misses a child whose launcher has already exited).
"""

import logging
import os
import signal
import subprocess
from typing import Dict

log = logging.getLogger(__name__)


def popen_options() -> Dict[str, object]:
    """Keyword arguments for ``subprocess.Popen`` that make the child the leader of its own group."""
    if os.name == "nt":
        # The console window is hidden rather than absent: CTRL_BREAK_EVENT travels through it.
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP,
                "startupinfo": subprocess.STARTUPINFO(dwFlags=subprocess.STARTF_USESHOWWINDOW, wShowWindow=0)}
    return {"start_new_session": True}


class ProcessTree:
    """The group led by ``process`` (started with :func:`popen_options`)."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self._job = _WindowsJob.for_process(process) if os.name == "nt" else None

    def interrupt(self) -> None:
        """Ask every process of the group to stop (SIGINT / CTRL_BREAK_EVENT): ``KeyboardInterrupt`` in Python."""
        if os.name == "nt":
            try:
                # os.kill, not Popen.send_signal, which does nothing once the launcher has exited: this is
                # GenerateConsoleCtrlEvent for the group id (the leader's pid), whoever of the group is left.
                os.kill(self.process.pid, signal.CTRL_BREAK_EVENT)
            except OSError:
                pass
            return
        self._signal_group(signal.SIGINT)

    def kill(self) -> None:
        """End every process of the group now (SIGKILL / the job's termination)."""
        if os.name == "nt":
            if self._job is None or not self._job.terminate():
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.process.pid)], capture_output=True)
            return
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, number: int) -> None:
        try:
            os.killpg(self.process.pid, number)  # the leader's pid is the group's id, also after the leader exits
        except ProcessLookupError:  # nobody left in the group
            pass


class _WindowsJob:
    """A Win32 job object holding the child (and so everything it starts afterwards)."""

    def __init__(self, handle, kernel32):
        self.handle, self.kernel32 = handle, kernel32

    @classmethod
    def for_process(cls, process: subprocess.Popen):
        try:
            import ctypes

            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            kernel32.CreateJobObjectW.restype = ctypes.c_void_p
            handle = kernel32.CreateJobObjectW(None, None)
            if not handle or not kernel32.AssignProcessToJobObject(ctypes.c_void_p(handle),
                                                                   ctypes.c_void_p(int(process._handle))):
                log.warning("no job object for the child process (error %s); killing falls back to taskkill /T",
                            ctypes.get_last_error())
                return None
            return cls(handle, kernel32)
        except (OSError, AttributeError) as error:
            log.warning("no job object for the child process (%s); killing falls back to taskkill /T", error)
            return None

    def terminate(self) -> bool:
        import ctypes

        return bool(self.kernel32.TerminateJobObject(ctypes.c_void_p(self.handle), 1))
