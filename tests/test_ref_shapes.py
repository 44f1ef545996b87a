"""alexnet_ref.shapes: output sizes, the architecture table and the counts."""
import pytest

import alexnet_ref as A

# The source document's per-layer sizes (its summary list corrected for NORM1/NORM2), written out
# independently of alexnet_ref's table.
SOURCE_SHAPES = {
    "input": (3, 227, 227), "conv1": (96, 55, 55), "norm1": (96, 55, 55), "pool1": (96, 27, 27),
    "conv2": (256, 27, 27), "norm2": (256, 27, 27), "pool2": (256, 13, 13),
    "conv3": (384, 13, 13), "conv4": (384, 13, 13), "conv5": (256, 13, 13), "pool3": (256, 6, 6),
    "fc6": (4096,), "fc7": (4096,), "fc8": (1000,),
}


@pytest.mark.parametrize("w,f,p,s,out", [
    (227, 11, 0, 4, 55), (55, 3, 0, 2, 27), (27, 5, 2, 1, 27), (27, 3, 0, 2, 13),
    (13, 3, 1, 1, 13), (13, 3, 0, 2, 6), (7, 7, 0, 1, 1), (10, 3, 1, 3, 4),
])
def test_conv_output_size_worked_examples(w, f, p, s, out):
    assert A.conv_output_size(w, f, p, s) == out


def test_pool_output_size_is_conv_without_padding():
    assert A.pool_output_size(55, 3, 2) == 27
    assert A.pool_output_size(13, 3, 2) == 6
    assert A.pool_output_size(8, 2, 2) == 4


@pytest.mark.parametrize("args,fragment", [
    ((224, 11, 0, 4), "(224 - 11 + 2*0)/4 + 1 = 54.25 is not a whole number"),
    ((5, 7, 0, 1), "larger than the padded input"),
    ((0, 3, 0, 1), "w_in must be >= 1, got 0"),
    ((10, 3, -1, 1), "p must be >= 0, got -1"),
    ((10, 3, 0, 0), "s must be >= 1, got 0"),
    ((10.0, 3, 0, 1), "w_in must be an integer, got 10.0"),
    ((10, True, 0, 1), "f must be an integer, got True"),
])
def test_conv_output_size_errors_name_the_numbers(args, fragment):
    with pytest.raises(ValueError) as err:
        A.conv_output_size(*args)
    assert fragment in str(err.value)


def test_pool_output_size_error():
    with pytest.raises(ValueError, match=r"\(12 - 3 \+ 2\*0\)/2 \+ 1 = 5.5"):
        A.pool_output_size(12, 3, 2)


def test_every_layer_matches_the_source_table():
    rows = A.layer_shapes()
    assert [r.spec.name for r in rows] == list(SOURCE_SHAPES)
    assert {r.spec.name: r.out_shape for r in rows} == SOURCE_SHAPES


def test_norm_layers_keep_the_convolution_size_not_the_pooled_one():
    shapes = {r.spec.name: r.out_shape for r in A.layer_shapes()}
    assert shapes["norm1"] == shapes["conv1"] != shapes["pool1"]
    assert shapes["norm2"] == shapes["conv2"] != shapes["pool2"]


def test_totals():
    assert A.total_params() == 62_378_344
    assert A.total_macs() == 1_135_256_096
    assert A.total_params(grouped=True) == 60_965_224


def test_per_layer_counts_by_hand():
    counts = {r.spec.name: (r.params, r.macs) for r in A.layer_shapes()}
    assert counts["conv1"] == (96 * 3 * 11 * 11 + 96, 55 * 55 * 96 * 3 * 11 * 11)
    assert counts["conv2"] == (256 * 96 * 25 + 256, 27 * 27 * 256 * 96 * 25)
    assert counts["fc6"] == (9216 * 4096 + 4096, 9216 * 4096)
    assert counts["fc8"] == (4096 * 1000 + 1000, 4096 * 1000)
    assert counts["pool1"] == counts["norm1"] == (0, 0)


def test_param_shapes_follow_the_table():
    shapes = A.param_shapes()
    assert shapes["conv1.weight"] == (96, 3, 11, 11)
    assert shapes["conv5.weight"] == (256, 384, 3, 3)
    assert shapes["fc6.weight"] == (4096, 9216)
    assert shapes["fc8.bias"] == (1000,)
    assert len(shapes) == 16
    assert A.param_shapes(grouped=True)["conv2.weight"] == (256, 48, 5, 5)


def test_architecture_rows_use_the_source_notation():
    rows = {r["layer"]: r for r in A.architecture_rows()}
    assert rows["CONV1"]["output"] == "[55×55×96]"
    assert rows["NORM1"]["output"] == "[55×55×96]"
    assert rows["MAX POOL3"]["tensor"] == "M_9"
    assert rows["FC7"]["tensor"] == "H_3"
    assert rows["FC8"]["output"] == "[1000]"
    assert sum(r["params"] for r in rows.values()) == 62_378_344


def test_224_input_does_not_tile():
    with pytest.raises(ValueError, match="not a whole number"):
        A.layer_shapes(input_size=224)


def test_public_names_use_the_readers_words():
    """No public name speaks of how the course was made ("seed" document, "brief", "issue")."""
    words = ("seed", "brief", "issue")
    assert [name for name in A.__all__ if any(w in name.lower() for w in words)] == []
