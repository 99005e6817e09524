"""The Colab bootstrap cell every notebook carries (tagged so CI skips it); one source of truth.

On Colab it clones the repository, installs perflab with the CuPy wheel matching Colab's CUDA major,
prints the environment and runs a one-element Triton kernel as a smoke test. Anywhere else it does
nothing. `python -m perflab.notebook_format --fix` writes this text into every notebook.
"""
REPO_URL = "https://github.com/perflab/perflab"
TAGS = ["skip-execution", "nbval-skip"]

BOOTSTRAP = f'''\
# Colab only: install perflab (+ the CuPy for Colab's CUDA), check it, run a tiny kernel. Elsewhere: nothing.
import os, subprocess, sys
if "google.colab" in sys.modules:
    repo = "/content/perflab"
    if not os.path.exists(repo):
        subprocess.run(["git", "clone", "-q", "--depth", "1", "{REPO_URL}", repo], check=True)
        import torch
        cuda = (torch.version.cuda or "12").split(".")[0]
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", f"{{repo}}[lab,cuda{{cuda}}]"],
                       check=True)
    sys.path.insert(0, repo)
    os.chdir(f"{{repo}}/notebooks")
    import perflab as pl, perflab.smoke
    print(pl.env().summary())
    print("smoke test:", perflab.smoke.triton_kernel()[1])
'''
