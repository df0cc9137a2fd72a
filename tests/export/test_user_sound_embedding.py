"""The user-sound embedding model that edge derives without the ``onnx`` package, checked against ``onnx`` itself:
the graph reader sees what ``onnx.load`` sees, and the derived copy is the model ``onnx.helper`` would build
(the workstation path before edge read ONNX files itself), giving the same embeddings under onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edge.user_sounds.embedding import EMBEDDING_OUTPUT, derive_embedding_model, penultimate_tensor
from edge.user_sounds.onnx_graph import read_graph

PACKS = Path(__file__).resolve().parents[2] / "edge" / "data" / "packs"
ONNX_FILES = sorted(PACKS.glob("*/*.onnx"))


@pytest.mark.parametrize("path", ONNX_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_graph_reader_sees_what_onnx_load_sees(path: Path) -> None:
    graph, model = read_graph(path), onnx.load(str(path))
    assert [(n.op_type, n.input, n.output) for n in graph.node] == [
        (n.op_type, tuple(n.input), tuple(n.output)) for n in model.graph.node
    ]
    assert graph.initializer_dims == {t.name: tuple(t.dims) for t in model.graph.initializer}


@pytest.mark.parametrize("pack_name", ["sense-default", "sense-test"])
def test_the_derived_model_is_the_one_onnx_helper_builds_and_embeds_the_same(tmp_path: Path, pack_name: str) -> None:
    source = PACKS / pack_name / "tagger.onnx"
    model = onnx.load(str(source))
    output = model.graph.output[0].name
    hidden = penultimate_tensor(model.graph, output)
    derive_embedding_model(source, tmp_path / "ours.onnx", output)
    ours = onnx.load(str(tmp_path / "ours.onnx"))
    assert list(ours.graph.node)[:-1] == list(model.graph.node) and list(ours.graph.output)[:-1] == list(
        model.graph.output
    )
    assert (ours.graph.node[-1].op_type, list(ours.graph.node[-1].input)) == ("Identity", [hidden])
    assert ours.graph.output[-1] == onnx.helper.make_tensor_value_info(EMBEDDING_OUTPUT, onnx.TensorProto.FLOAT, None)

    model.graph.node.append(onnx.helper.make_node("Identity", [hidden], [EMBEDDING_OUTPUT], name="sense_embedding"))
    model.graph.output.append(onnx.helper.make_tensor_value_info(EMBEDDING_OUTPUT, onnx.TensorProto.FLOAT, None))
    onnx.save(model, str(tmp_path / "helper.onnx"))
    sessions = {
        name: ort.InferenceSession(str(tmp_path / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        for name in ("ours", "helper")
    }
    rng = np.random.default_rng(0)
    feed = {
        i.name: rng.random([d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
        for i in sessions["ours"].get_inputs()
    }
    embeddings = {name: session.run([EMBEDDING_OUTPUT], feed)[0] for name, session in sessions.items()}
    assert embeddings["ours"].size > 1 and np.array_equal(embeddings["ours"], embeddings["helper"])
