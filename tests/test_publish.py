"""What the runner publishes, and the kernel it runs: a published notebook opens in JupyterLab unmodified,
carries no progress-bar residue, and a successful run prints nothing on stderr. `make lab` uses this
environment's kernel.

One real kernel run (a tiny notebook with tqdm bars, a few seconds); no training.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel
from tqdm import tqdm

from cifar_utils import kernels, report
from cifar_utils.nbclean import WIDGET_VIEW, strip_progress, strip_volatile, without_bars
from cifar_utils.recipes import REPO_ROOT

BAR_START = tqdm.format_meter(0, 5, 0, prefix="epoch 1/1")               # 'epoch 1/1:   0%|     | 0/5 [00:00<?, ?it/s]'
BAR_MIDDLE = tqdm.format_meter(3, 5, 1.5, prefix="epoch 1/1", rate=2)
BAR_SCALED = tqdm.format_meter(1500, 50000, 12, prefix="epoch 1/9", unit_scale=True)  # '... 1.50k/50.0k [...'
BAR_NO_TOTAL = tqdm.format_meter(7, None, 1.1, prefix="batches")         # 'batches: 7it [00:01,  6.36it/s]'


# --- progress residue, on synthetic outputs --------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    (f"\r{BAR_START}\r{BAR_MIDDLE}\r{' ' * len(BAR_MIDDLE)}\r", ""),   # tqdm.std with leave=False
    (f"{BAR_START}\r{BAR_MIDDLE}\n", ""),                                # leave=True: the last bar and a newline
    (f"\r{BAR_SCALED}\r{BAR_NO_TOTAL}\n", ""),
    (f"epoch   1/1  train loss 2.3026\n\r{BAR_START}\r", "epoch   1/1  train loss 2.3026\n"),
    ("Loaded stored result results/x.json.\nWarning: 50% of 10 | 3/5 is not a bar\n",
     "Loaded stored result results/x.json.\nWarning: 50% of 10 | 3/5 is not a bar\n"),
    (f"\r{BAR_START}\rdone\n", "done\n"),                                # a message that overwrote the bar stays
    ("", ""),
])
def test_without_bars(text, expected):
    assert without_bars(text) == expected


def widget_view(text_plain: str) -> dict:
    """A display_data output as tqdm.notebook leaves it: a widget view with a text/plain fallback."""
    return nbformat.v4.new_output("display_data", data={
        WIDGET_VIEW: {"model_id": "0a1b2c", "version_major": 2, "version_minor": 0}, "text/plain": text_plain})


def test_strip_progress_removes_widgets_and_bars_and_keeps_the_rest():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("exp.run()")
    log = nbformat.v4.new_output("stream", name="stdout", text="epoch   1/1  train loss 2.3026 acc 10.00%\n")
    table = nbformat.v4.new_output("execute_result", data={"text/plain": "  value\nlr  0.05"}, execution_count=1)
    cell.outputs = [widget_view(BAR_START), log,
                    nbformat.v4.new_output("stream", name="stderr", text=f"\r{BAR_START}\r{BAR_MIDDLE}\r  \r"),
                    widget_view(BAR_MIDDLE), table]
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    strip_progress(nb)
    assert "widgets" not in nb.metadata
    assert nb.cells[1].outputs == [log, table]
    nbformat.validate(nb)


def test_one_stream_split_into_several_outputs_is_published_as_one():
    """Under load a kernel may flush one print in two messages; the published notebook must not depend on it."""
    cell = nbformat.v4.new_code_cell("print(x)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a = 0.291140"),
                    nbformat.v4.new_output("stream", name="stdout", text="\n"),
                    nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="b\n")]
    nb = nbformat.v4.new_notebook(cells=[cell])
    strip_progress(nb)
    assert [(o.name, o.text) for o in nb.cells[0].outputs] == [("stdout", "a = 0.291140\n"), ("stderr", "warning\n"),
                                                                ("stdout", "b\n")]


def test_strip_volatile_keeps_language_info_as_the_kernel_reported_it():
    nb = nbformat.v4.new_notebook()
    info = {"name": "python", "version": "3.11.7", "mimetype": "text/x-python", "file_extension": ".py",
            "codemirror_mode": {"name": "ipython", "version": 3}, "pygments_lexer": "ipython3",
            "nbconvert_exporter": "python"}
    nb.metadata["language_info"] = json.loads(json.dumps(info))
    nb.metadata["papermill"] = {"start_time": "x"}
    strip_volatile(nb)
    assert nb.metadata == {"language_info": info}


def executed(nb):
    """``nb`` as a kernel leaves it: each code cell numbered in order, with a result of that number."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": str(count)},
                                                   execution_count=count)]
    return nb


def test_a_run_with_a_data_folder_is_published_with_the_execution_counts_of_a_run_without(tmp_path):
    """papermill runs its injected cell (-p data_dir X) after the parameters cell; publishing drops that cell, and
    the cells after it keep the numbers a run without it gives them."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# title"),
                                         nbformat.v4.new_code_cell("epochs = 10", metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell("run()"), nbformat.v4.new_markdown_cell("text"),
                                         nbformat.v4.new_code_cell("table()")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, tmp_path / "n.ipynb")
    plain = executed(load_notebook_node(str(tmp_path / "n.ipynb")))  # as papermill reads it
    with_data = executed(parameterize_notebook(load_notebook_node(str(tmp_path / "n.ipynb")), {"data_dir": "/d"}))
    assert len(with_data.cells) == len(nb.cells) + 1  # papermill's injected cell ran

    def counts(notebook):
        return [(c.execution_count, [o.execution_count for o in c.outputs]) for c in notebook.cells
                if c.cell_type == "code"]
    strip_volatile(plain)
    strip_volatile(with_data)
    assert counts(with_data) == counts(plain) == [(1, [1]), (2, [2]), (3, [3])]


# --- a real run: publish, then open and save as JupyterLab would -------------------------------------

TINY_CELLS = [
    "import sys\nfrom tqdm.auto import tqdm",
    "for _ in tqdm(range(5), desc='epoch 1/1', leave=False):\n    pass\nprint('trained')",       # ipywidgets bar
    "for _ in tqdm(range(3), desc='epoch 1/1', file=sys.stderr, ascii=True):\n    pass",      # tqdm.std on stderr
    "print(sys.executable)",
]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A tiny notebook run and published by the runner (report profile), with stderr as the terminal sees it."""
    root = tmp_path_factory.mktemp("publish")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in TINY_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, notebooks / "tiny.ipynb")
    # The kernel is a child process writing to file descriptor 2, so stderr is caught at that level.
    script = (f"import sys; from cifar_utils import recipes, report; from pathlib import Path\n"
              f"recipes.NOTEBOOKS_DIR = report.NOTEBOOKS_DIR = Path({str(notebooks)!r})\n"
              f"report.write_readme = lambda path: False  # README's blocks are the study's, not this notebook's\n"
              f"sys.exit(report.main(['--output-dir', {str(root / 'build')!r}]))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    return run, notebooks / "tiny.ipynb"


@pytest.mark.slow
def test_a_successful_run_prints_nothing_on_stderr(published):
    run, _ = published
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("ok     tiny")
    assert run.stderr == ""  # no "Kernel is running over TCP without encryption", no KeyboardInterrupt


@pytest.mark.slow
def test_published_notebook_has_no_progress_residue(published):
    _, path = published
    nb = nbformat.read(path, as_version=4)
    outputs = [o for c in nb.cells for o in c.outputs]
    assert "widgets" not in nb.metadata
    assert not [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    text = json.dumps(outputs)
    assert "it/s" not in text and "%|" not in text
    assert nb.cells[1].outputs[0]["text"] == "trained\n"
    assert nb.cells[2].outputs == []
    assert nb.cells[3].outputs[0]["text"] == f"{sys.executable}\n"  # the kernel is this environment's python


@pytest.mark.slow
def test_published_notebook_opens_and_saves_in_jupyterlab_unmodified(published, tmp_path, monkeypatch):
    """JupyterLab writes the kernelspec and the kernel's language_info into a notebook when its kernel
    connects; saving goes through jupyter_server's contents manager. Both must leave the file as published."""
    _, path = published
    before = path.read_bytes()
    assert json.loads(before)["metadata"]["language_info"]["version"]  # kept, as JupyterLab would add it

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.kernel_info(reply=True)["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    spec = KernelSpecManager().get_kernel_spec("python3")

    from jupyter_server.services.contents.filemanager import FileContentsManager
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))  # the notebook-signature database goes there
    manager = FileContentsManager(root_dir=str(path.parent))
    model = manager.get(path.name)
    model["content"].metadata["kernelspec"] = {"name": "python3", "display_name": spec.display_name,
                                               "language": spec.language}
    model["content"].metadata["language_info"] = reply["language_info"]
    manager.save(model, path.name)
    assert path.read_bytes() == before


# --- the kernel manager: no interrupt when shutting down, encrypted sockets -------------------------

@pytest.mark.slow
def test_quiet_kernel_manager_encrypts_and_does_not_interrupt_at_shutdown(monkeypatch):
    async def scenario():
        km = kernels.QuietKernelManager(kernel_name="python3")
        await km.start_kernel()
        sent = []
        real_signal = km._async_signal_kernel

        async def record(signum):
            sent.append(signum)
            if signum != signal.SIGINT:
                await real_signal(signum)

        monkeypatch.setattr(km, "_async_signal_kernel", record)
        encrypted = km.get_connection_info().get("curve_secretkey") is not None
        await km.interrupt_kernel()  # an interrupt asked for (nbclient's on timeout) is still sent
        await km.shutdown_kernel()
        return encrypted, sent

    encrypted, sent = asyncio.run(scenario())
    assert encrypted
    assert sent.count(signal.SIGINT) == 1


# A cell that makes its kernel's control thread slow to publish its last "idle" status after the shutdown
# reply, as a busy machine may: 0.5 s between IOPubThread.schedule's thread.is_alive() check and the send on
# the control thread's event pipe. The kernel's tornado log records go to a file. (All in a function: IPython
# empties the notebook's namespace at exit, before the kernel's threads stop.)
SLOW_CONTROL_THREAD = """def slow_control_thread(path):
    import logging, threading, time
    from ipykernel import iostream
    kernel, late = get_ipython().kernel, set()
    publish_status, event_pipe = kernel._publish_status, iostream.IOPubThread._event_pipe

    def record(line):
        with open(path, "a") as log:
            print(line, file=log)

    class Record(logging.Handler):
        def emit(self, entry):
            record(f"{{entry.levelname}} {{entry.getMessage()}} {{entry.exc_info and entry.exc_info[1]!r}}")

    def last_idle_is_late(status, channel, parent=None):
        if (status, channel) == ("idle", "control") and kernel._shutdown_message is not None:
            late.add(threading.get_ident())
        try:
            publish_status(status, channel, parent)
        finally:
            late.discard(threading.get_ident())

    def late_event_pipe(self):
        if threading.get_ident() in late:
            record("late")
            time.sleep(0.5)
        return event_pipe.fget(self)

    logging.getLogger("tornado").addHandler(Record())
    kernel._publish_status = last_idle_is_late
    iostream.IOPubThread._event_pipe = property(late_event_pipe)


slow_control_thread({log!r})
"""


@pytest.mark.slow
def test_a_slow_control_thread_still_publishes_before_the_iopub_thread_stops(tmp_path, monkeypatch):
    """ipykernel answers a shutdown request on its control thread, which then still publishes through the IOPub
    thread; the runner's kernels stop that thread first at exit (kernels.KERNEL_LAUNCHER), so its sends never
    meet a closed event pipe: no "Uncaught exception in ZMQStream callback ... Socket operation on non-socket"."""
    log = tmp_path / "kernel-log.txt"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SLOW_CONTROL_THREAD.format(log=str(log)))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, tmp_path / "slow.ipynb")
    (tmp_path / "build").mkdir()
    monkeypatch.setattr(report, "NOTEBOOKS_DIR", tmp_path)
    monkeypatch.chdir(os.getcwd())  # papermill's cwd switching is undone even if it is not
    ok, detail, _ = report.run_notebook("slow", {}, tmp_path / "build")
    assert ok, detail
    lines = log.read_text().splitlines()
    assert lines[0] == "late"  # the control thread published after the shutdown reply, slowly
    assert lines[1:] == []  # and tornado logged nothing


# --- make lab ------------------------------------------------------------------------------------

def test_make_lab_starts_jupyterlab_with_this_environments_kernel(tmp_path):
    """`make lab` prefers this environment's kernelspecs (jupyter_core's default inside a virtual
    environment, made explicit), so a user-level 'python3' kernel pointing at another Python does not
    shadow the project's, even for a user who set JUPYTER_PREFER_ENV_PATH=0."""
    command = subprocess.run(["make", "--no-print-directory", "-n", "lab"], capture_output=True, text=True,
                             cwd=REPO_ROOT).stdout  # (under make test, make prints its directories otherwise)
    lab_line = command.strip().splitlines()[-1]
    assert "JUPYTER_PREFER_ENV_PATH=1" in lab_line and "-m jupyter lab" in lab_line and "notebooks/" in lab_line
    user_kernel = tmp_path / "kernels" / "python3"
    user_kernel.mkdir(parents=True)
    (user_kernel / "kernel.json").write_text(json.dumps(
        {"argv": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "another Python", "language": "python"}))
    probe = ("from jupyter_client.kernelspec import KernelSpecManager; import sys\n"
             "spec = KernelSpecManager().get_kernel_spec('python3')\n"
             "print(spec.resource_dir.startswith(sys.prefix), spec.argv[0] in ('python', sys.executable))")
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path)}
    shadowed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              env={**env, "JUPYTER_PREFER_ENV_PATH": "0"}).stdout
    preferred = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                               env={**env, "JUPYTER_PREFER_ENV_PATH": "1"}).stdout
    assert shadowed.split() == ["False", "False"]  # what a plain `jupyter lab` would pick
    assert preferred.split() == ["True", "True"]   # 'python' is started as sys.executable by jupyter_client
