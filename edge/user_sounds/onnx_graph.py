"""The few parts of an ONNX file that user sounds need, read and extended without the ``onnx`` package.

An ONNX model is a protobuf ``ModelProto``. Reading it needs only protobuf's wire format (varints and
length-delimited fields); the field numbers below are those of ``onnx/onnx.proto``. Extending it needs no
re-encoding: a parser merges two occurrences of an embedded message field, so the model's bytes followed by one
more ``graph`` field that holds only an extra node and an extra output are the model with that node and output
added — which is what onnxruntime and ``onnx.load`` both read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import InferenceError

MODEL_GRAPH = 7  # ModelProto.graph
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_OUTPUT = 1, 5, 12  # GraphProto.node, .initializer, .output
NODE_INPUT, NODE_OUTPUT, NODE_NAME, NODE_OP_TYPE = 1, 2, 3, 4  # NodeProto
TENSOR_DIMS, TENSOR_NAME = 1, 8  # TensorProto
VALUE_NAME, VALUE_TYPE = 1, 2  # ValueInfoProto
TYPE_TENSOR, TENSOR_TYPE_ELEM = 1, 1  # TypeProto.tensor_type, TypeProto.Tensor.elem_type
FLOAT = 1  # TensorProto.DataType.FLOAT

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5  # protobuf wire types


@dataclass(frozen=True)
class Node:
    op_type: str
    input: tuple[str, ...]
    output: tuple[str, ...]


@dataclass
class Graph:
    """The nodes of an ONNX graph in file order and the dims of its initializers (weights) by name."""

    node: list[Node] = field(default_factory=list)
    initializer_dims: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _varint(data: bytes, at: int, where: str) -> tuple[int, int]:
    value, shift = 0, 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    raise InferenceError(f"{where}: not an ONNX model (a protobuf varint runs past the end at byte {at})")


def _fields(data: bytes, where: str) -> list[tuple[int, int | bytes]]:
    """(field number, value) of each field of one protobuf message, in order: bytes where length-delimited."""
    out: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        start = at
        key, at = _varint(data, at, where)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == VARINT:
            value, at = _varint(data, at, where)
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            value, at = int.from_bytes(data[at : at + size], "little"), at + size
        elif wire == LENGTH:
            size, at = _varint(data, at, where)
            value, at = data[at : at + size], at + size
        else:
            raise InferenceError(
                f"{where}: not an ONNX model (protobuf wire type {wire} at byte {start}; expected 0, 1, 2 or 5)"
            )
        if at > len(data):
            raise InferenceError(f"{where}: not an ONNX model (a protobuf field at byte {start} runs past the end)")
        out.append((number, value))
    return out


def _strings(message: bytes, number: int, where: str) -> tuple[str, ...]:
    try:
        return tuple(v.decode() for n, v in _fields(message, where) if n == number and isinstance(v, bytes))
    except UnicodeDecodeError as error:
        raise InferenceError(f"{where}: not an ONNX model (a name is not UTF-8: {error.reason})") from None


def _dims(tensor: bytes, where: str) -> tuple[int, ...]:
    dims: list[int] = []
    for number, value in _fields(tensor, where):
        if number != TENSOR_DIMS:
            continue
        if isinstance(value, int):
            dims.append(value)
        else:  # packed
            at = 0
            while at < len(value):
                dim, at = _varint(value, at, where)
                dims.append(dim)
    return tuple(dims)


def read_graph(path: Path) -> Graph:
    """The nodes and initializer dims of the main graph of the ONNX model at ``path``."""
    where = str(path)
    graph = Graph()
    for number, value in _fields(path.read_bytes(), where):
        if number != MODEL_GRAPH or not isinstance(value, bytes):
            continue
        for g_number, g_value in _fields(value, where):
            if not isinstance(g_value, bytes):
                continue
            if g_number == GRAPH_NODE:
                op_type = _strings(g_value, NODE_OP_TYPE, where)
                graph.node.append(
                    Node(
                        op_type[-1] if op_type else "",
                        _strings(g_value, NODE_INPUT, where),
                        _strings(g_value, NODE_OUTPUT, where),
                    )
                )
            elif g_number == GRAPH_INITIALIZER:
                names = _strings(g_value, TENSOR_NAME, where)
                if names:
                    graph.initializer_dims[names[-1]] = _dims(g_value, where)
    if not graph.node:
        raise InferenceError(f"{where}: not an ONNX model (no graph nodes found)")
    return graph


def _key(number: int, wire: int) -> bytes:
    return _encode_varint(number << 3 | wire)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _length_field(number: int, payload: bytes) -> bytes:
    return _key(number, LENGTH) + _encode_varint(len(payload)) + payload


def with_extra_output(model: bytes, tensor: str, output: str, node_name: str) -> bytes:
    """``model`` (ONNX bytes) with an ``Identity`` node from ``tensor`` to a new float graph output ``output``."""
    node = (
        _length_field(NODE_INPUT, tensor.encode())
        + _length_field(NODE_OUTPUT, output.encode())
        + _length_field(NODE_NAME, node_name.encode())
        + _length_field(NODE_OP_TYPE, b"Identity")
    )
    float_tensor = _length_field(TYPE_TENSOR, _key(TENSOR_TYPE_ELEM, VARINT) + _encode_varint(FLOAT))
    value_info = _length_field(VALUE_NAME, output.encode()) + _length_field(VALUE_TYPE, float_tensor)
    return model + _length_field(MODEL_GRAPH, _length_field(GRAPH_NODE, node) + _length_field(GRAPH_OUTPUT, value_info))
