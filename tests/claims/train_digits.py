"""Test helper run as a child process: train logistic regression (a MegEngine Linear module from
the test hub repo's hubconf.py) on scikit-learn's digits, save the weights and the test split.

    python train_digits.py REPO_DIR OUT_DIR
writes OUT_DIR/weights.pkl (megengine.save of the state dict), OUT_DIR/digits_test.npz
(images float32 (N, 8, 8) in 0..16, labels) and OUT_DIR/measured.json ({correct, n}).
Fixed split: even positions train, odd positions test (898 test images).
"""

import json
import os
import sys

import numpy as np
from sklearn.datasets import load_digits

import megengine
import megengine.autodiff as autodiff
import megengine.functional as F
import megengine.optimizer as optim

repo, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, repo)
import hubconf  # noqa: E402

megengine.random.seed(0)
digits = load_digits()
x = digits.images.astype(np.float32)
y = digits.target.astype(np.int32)
xtr, ytr, xte, yte = x[0::2], y[0::2], x[1::2], y[1::2]

model = hubconf.DigitsLinear()
for p in model.parameters():
    p._reset(megengine.tensor(np.zeros(p.shape, dtype=np.float32)))  # deterministic start
gm = autodiff.GradManager().attach(model.parameters())
opt = optim.SGD(model.parameters(), lr=0.5)
data, label = megengine.tensor(xtr[:, None] / 16.0), megengine.tensor(ytr)
model.train()
for _ in range(150):
    with gm:
        loss = F.loss.cross_entropy(model(data), label)
        gm.backward(loss)
    opt.step().clear_grad()
model.eval()
pred = model(megengine.tensor(xte[:, None] / 16.0)).numpy().argmax(axis=1)
os.makedirs(out, exist_ok=True)
megengine.save(model.state_dict(), os.path.join(out, "weights.pkl"))
np.savez(os.path.join(out, "digits_test.npz"), images=xte, labels=yte)
json.dump({"correct": int((pred == yte).sum()), "n": int(len(yte))}, open(os.path.join(out, "measured.json"), "w"))
