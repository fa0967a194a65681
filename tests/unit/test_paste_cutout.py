"""Cutting an accessory out of white and pasting it at a tenth of the base image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from compclip.paste.cutout import cut_out, paste, pasted_size


def on_white(size=(40, 30), box=(5, 8, 25, 18), color=(200, 10, 10)):
    image = np.full((size[1], size[0], 3), 255, np.uint8)
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = color
    return Image.fromarray(image)


def test_cut_out_crops_to_what_differs_from_white():
    cutout = cut_out(on_white(), tolerance=30)
    assert cutout.rgb.shape == (10, 20, 3) and cutout.alpha.shape == (10, 20) and cutout.alpha.min() == 1.0


def test_near_white_is_background_and_all_white_has_no_cutout():
    assert cut_out(on_white(color=(240, 240, 240)), tolerance=30) is None
    assert cut_out(on_white(color=(200, 240, 240)), tolerance=30).rgb.shape == (10, 20, 3)


def test_an_alpha_channel_is_the_mask():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[2:6, 3:13] = (255, 255, 255, 255)  # white but opaque: kept
    cutout = cut_out(Image.fromarray(rgba, "RGBA"), tolerance=30)
    assert cutout.rgb.shape == (4, 10, 3)


@pytest.mark.parametrize("base", [(100, 80), (64, 64), (60, 200)])
def test_the_pasted_box_covers_a_tenth_of_the_base(base):
    cutout = cut_out(on_white(), tolerance=30)
    w, h = pasted_size(cutout, base, 0.1)
    assert abs(w * h - 0.1 * base[0] * base[1]) <= w + h + 1 and w <= base[0] and h <= base[1]
    assert abs(w / h - 2.0) < 0.25


def test_a_long_cutout_is_shrunk_to_fit():
    cutout = cut_out(on_white(size=(200, 10), box=(0, 0, 200, 2)), tolerance=30)
    assert pasted_size(cutout, (50, 50), 0.1)[0] == 50


def test_paste_changes_only_the_box_and_is_seeded():
    base = Image.fromarray(np.full((60, 80, 3), 40, np.uint8))
    cutout = cut_out(on_white(), tolerance=30)
    image, (x, y, w, h) = paste(base, cutout, 0.1, np.random.default_rng(3))
    again, box = paste(base, cutout, 0.1, np.random.default_rng(3))
    out = np.asarray(image)
    assert box == (x, y, w, h) and np.array_equal(out, np.asarray(again))
    assert (out[y : y + h, x : x + w] == (200, 10, 10)).all(axis=2).mean() > 0.9
    outside = np.ones(out.shape[:2], bool)
    outside[y : y + h, x : x + w] = False
    assert (out[outside] == 40).all()
