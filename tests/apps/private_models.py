"""A private face-models directory for tests: links to the installed ONNX files (scripts/fetch-models.sh) plus
a mask classifier trained by the test itself, so the user's model cache is never written."""
import os
import subprocess


def installed_models_root():
    if os.environ.get("GATETWIN_MODELS"):
        return os.environ["GATETWIN_MODELS"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "gatetwin", "models")


def make(tmp, gatetwin, train="16", heldout="6"):
    """Builds tmp/models/faceplugin-0.0.1 and returns an environment whose GATETWIN_MODELS points at it."""
    real = os.path.join(installed_models_root(), "faceplugin-0.0.1")
    private = os.path.join(tmp, "models", "faceplugin-0.0.1")
    os.makedirs(private)
    for f in os.listdir(real):
        if f.endswith(".onnx"):
            os.symlink(os.path.join(real, f), os.path.join(private, f))
    env = dict(os.environ, GATETWIN_MODELS=os.path.join(tmp, "models"))
    r = subprocess.run([gatetwin, "train-mask", "--train", train, "--heldout", heldout], capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(private, "gatetwin-mask-v1.yaml"))
    return env
