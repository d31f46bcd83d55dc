"""Executes one notebook headless with nbclient and exports it to offline HTML.

Called by galmorph's notebook runner (src/notebooks/run.ts); Jupyter's executor is Python, so this
is the thin bridge. Usage:
    run_notebook.py NOTEBOOK OUT_IPYNB OUT_HTML --kernel tslab --timeout 3600 --cwd DIR --template-dir DIR
On a failing cell it still writes the partly executed notebook (and HTML), prints
`GALMORPH_CELL_ERROR <index> <notebook>` followed by the error, and exits 3.
"""
import argparse
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter


def sign(nb):
    """Marks the executed notebook trusted in the Jupyter data dir galmorph points at (project-local
    .jupyter/data, which `npm run notebook` uses too), so its HTML and plot outputs render when opened
    instead of being hidden as untrusted. Returns False (and says why) when signing fails."""
    try:
        from nbformat.sign import NotebookNotary
        NotebookNotary().sign(nb)
        return True
    except Exception as err:  # signing is a convenience; the run's results stand without it
        print(f"galmorph: could not mark the notebook trusted ({err}); run `jupyter trust FILE`", file=sys.stderr, flush=True)
        return False


def write_outputs(nb, out_ipynb, out_html, template_dir):
    nbformat.write(nb, out_ipynb)
    if sign(nb):
        print("GALMORPH_TRUSTED", flush=True)
    exporter = HTMLExporter(template_name="galmorph-offline", extra_template_basedirs=[template_dir])
    body, _ = exporter.from_notebook_node(nb)
    with open(out_html, "w", encoding="utf-8") as f:
        f.write(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook")
    ap.add_argument("out_ipynb")
    ap.add_argument("out_html")
    ap.add_argument("--kernel", default="tslab")
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--cwd", required=True)
    ap.add_argument("--template-dir", required=True)
    args = ap.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        resources={"metadata": {"path": args.cwd}},
    )
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    failed = None
    with client.setup_kernel():
        for n, index in enumerate(code_cells, start=1):
            print(f"  cell {index} ({n}/{len(code_cells)})", file=sys.stderr, flush=True)
            try:
                client.execute_cell(nb.cells[index], index)
            except CellExecutionError as err:
                failed = (index, err)
            finally:
                # tslab sends no execute_input message, so number the cells here as Jupyter would.
                if nb.cells[index].get("execution_count") is None:
                    nb.cells[index]["execution_count"] = n
            if failed is not None:
                break
    write_outputs(nb, args.out_ipynb, args.out_html, args.template_dir)
    if failed is not None:
        index, err = failed
        print(f"GALMORPH_CELL_ERROR {index} {args.notebook}", flush=True)
        print(str(err).strip(), flush=True)
        # tslab reports TypeScript compile errors on stderr, not in the error message itself;
        # galmorph/kernel shows a thrown error as a display (text/plain twin) marked galmorph: error.
        outputs = nb.cells[index].get("outputs", [])
        stderr = "".join(
            o.get("text", "") if o.get("output_type") == "stream" else o.get("data", {}).get("text/plain", "") + "\n"
            for o in outputs
            if (o.get("output_type") == "stream" and o.get("name") == "stderr")
            or (o.get("output_type") == "display_data" and o.get("metadata", {}).get("galmorph") == "error")
        )
        if stderr.strip():
            print("stderr of the cell:\n" + stderr.strip(), flush=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
