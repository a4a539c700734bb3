"""The piecewise-affine warp every landmark backend draws with (generators/common/warp.py): a triangle whose
output is a sliver is not drawn when the caller bounds the stretch. Synthetic images only, milliseconds."""

from __future__ import annotations

import numpy as np

from synthfake.generators.common import warp


def test_a_sliver_triangle_strews_its_source_unless_its_stretch_is_bounded():
    """A triangle squashed to a line in the output (a closing mouth's inner-lip triangles, reenactment driven to
    closed lips) was rasterised as a line of pixels, each sampling a point anywhere in its whole source triangle:
    on wild/reals a dotted trail of teeth and lip-line pixels from cheek to mouth corner (7 Dec). Bounded, the
    sliver is left undrawn (its pixels the caller's background) and a triangle that keeps its shape is drawn."""
    src = np.full((100, 100, 3), 60, np.uint8)
    src[40:60, 40:60] = 255  # a bright patch inside the first source triangle
    src_pts = np.array([[10, 10], [90, 10], [50, 90], [10, 95], [30, 95], [10, 75]], np.float32)
    dst_pts = np.array([[10, 50], [90, 54], [50, 52.4], [10, 95], [30, 95], [10, 75]], np.float32)  # a slanted sliver
    tris = np.array([[0, 1, 2], [3, 4, 5]], np.int32)
    roi = (0, 0, 100, 100)
    loose, loose_mask = warp.warp_region(src, src_pts, dst_pts, tris, roi)
    bounded, mask = warp.warp_region(src, src_pts, dst_pts, tris, roi, max_stretch=8.0)
    line = loose_mask[48:57, 10:91] > 0
    assert line.any() and (loose[48:57, 10:91][line] > 200).any()  # the patch strewn along the line
    assert not (mask[48:57, 10:91] > 0).any()  # not drawn when bounded
    assert mask[90:94, 11:14].all() and (mask == loose_mask)[60:].all()  # the shapely triangle drawn the same
    assert np.array_equal(bounded[mask > 0], loose[mask > 0])
    assert warp.stretch(warp.triangle_affines(src_pts, dst_pts, tris)[0])[0] > 50
