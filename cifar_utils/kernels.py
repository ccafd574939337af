"""The kernel the report runner executes notebooks with: ipykernel's, less the noise a successful run used
to print on stderr, and without the race at its exit that printed one of them now and then."""
from __future__ import annotations

from jupyter_client import AsyncKernelManager


# ipykernel's launcher (python -m ipykernel_launcher), but with the kernel's threads stopped in order at exit.
# ipykernel (7.4) answers a shutdown request on its control thread, which tells the main thread to stop and
# then still flushes stdout and stderr and publishes its "idle" status (Kernel.process_control): each a send
# on the control thread's event pipe to the IOPub thread. Meanwhile the main thread exits, and its exit hooks
# stop the IOPub thread first (IOPubThread.stop, registered at exit; IPKernelApp.close stops the control
# thread only after it), closing every thread's event pipe: a control thread past its `thread.is_alive()`
# check then sends on a closed socket (IOPubThread.schedule), "ZMQError: Socket operation on non-socket" is
# raised in the control stream's callback, and tornado logs "Uncaught exception in ZMQStream callback" on the
# kernel's stderr, which ipykernel passes on to the runner's while its fd-2 reader still can. This hook,
# registered after ipykernel's, runs before them: the control and shell-channel threads (already told to
# stop by the shutdown request) finish their sends first; the IOPub thread then closes pipes no thread uses.
KERNEL_LAUNCHER = """\
import atexit, sys
if sys.path and sys.path[0] == "":
    del sys.path[0]  # as ipykernel_launcher does; the kernel puts the working directory back (init_path)
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
app.initialize()

def stop_the_publishing_threads_first():
    for thread in (app.control_thread, app.shell_channel_thread):
        if thread is not None and thread.is_alive():
            thread.stop()
            thread.join(timeout=10)

atexit.register(stop_the_publishing_threads_first)
app.start()
"""


class QuietKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, less the three messages a successful run used to print on stderr:

    - "Kernel is running over TCP without encryption": the kernel's sockets are encrypted (CurveZMQ)
      where its kernelspec declares support, as ipykernel's does; elsewhere the warning stays;
    - "KeyboardInterrupt caught in kernel": jupyter_client interrupts a kernel before shutting it down,
      and a SIGINT that lands while the kernel handles a message is logged as an error. The runner shuts a
      kernel down only after its last cell finished or failed, so there is nothing to interrupt: a
      kernel still busy is stopped by the shutdown request, then by a signal, as before;
    - "Uncaught exception in ZMQStream callback ... Socket operation on non-socket", now and then at the
      kernel's exit: ipykernel's kernels (python -m ipykernel_launcher) start through KERNEL_LAUNCHER, which
      stops the kernel's threads in an order without that race; other kernels start as their spec says."""

    def __init__(self, **kwargs):
        kwargs.setdefault("transport_encryption", "auto")
        super().__init__(**kwargs)

    async def _async_interrupt_kernel(self) -> None:
        if not self.shutting_down:
            await super()._async_interrupt_kernel()

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd[1:3] == ["-m", "ipykernel_launcher"]:
            cmd[1:3] = ["-c", KERNEL_LAUNCHER]
        return cmd
