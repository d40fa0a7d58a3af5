"""A ``.pt2`` file (``torch.export.save``) read without unpickling anything.

``torch.export.load`` unpickles: the sample inputs always (``torch.load``, falling back to
``weights_only=False``), tensor subclasses and custom objects where the archive has them. This
reads the same archive through torch's own pieces, minus those: the program (JSON), the plain
weights and constants (raw bytes), and no sample inputs. An archive that holds any pickled
payload is refused, naming it. The program is then imported like a torch module (through
ONNX, :func:`hwloop.archs._import.torch_to_spec`).

It leans on torch's private archive helpers; torch is pinned, and a test round-trips a saved
program, so a torch that moves them fails there first.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from hwloop import HwloopError

MAX_BYTES = 2 * 1024**3


def _refuse(path: Path, what: str) -> HwloopError:
    return HwloopError(
        f"{path}: the .pt2 holds {what}, which only unpickling can read; hwloop never unpickles "
        "a file: export a plain module (torch.export of float tensors), or ONNX"
    )


def _payloads(reader: Any, config: str) -> dict[str, Any]:
    doc = json.loads(reader.read_string(config))
    return dict(doc.get("config") or {})


def load_program(path: Path) -> Any:
    """The ``ExportedProgram`` in ``path`` (one model per archive)."""
    from torch._export.serde import schema
    from torch._export.serde.serialize import (
        ExportedProgramDeserializer,
        SerializeError,
        _bytes_to_dataclass,
    )
    from torch.export.pt2_archive import _package as pkg
    from torch.export.pt2_archive import constants as C

    try:
        if not zipfile.is_zipfile(path):
            raise HwloopError(f"{path}: not a .pt2 archive (not a zip file)")
        if sum(i.file_size for i in zipfile.ZipFile(path).infolist()) > MAX_BYTES:
            raise HwloopError(f"{path}: over {MAX_BYTES // 1024**3} GiB unpacked")
        with pkg.PT2ArchiveReader(str(path)) as reader:
            names = reader.get_file_names()
            prefix, suffix = C.MODELS_FILENAME_FORMAT.split("{}")
            models = [n[len(prefix) : -len(suffix)] for n in names if n.startswith(prefix)]
            if len(models) != 1:
                raise HwloopError(f"{path}: {len(models)} programs in the archive; one is imported")
            model = models[0]
            if f"{C.WEIGHTS_DIR}{model}.pt" in names or f"{C.CONSTANTS_DIR}{model}.pt" in names:
                raise _refuse(path, "weights in the legacy torch.save format")
            weights = _payloads(reader, C.WEIGHTS_CONFIG_FILENAME_FORMAT.format(model))
            if any(meta.get("use_pickle") for meta in weights.values()):
                raise _refuse(path, "pickled weights (tensor subclasses)")
            consts = _payloads(reader, C.CONSTANTS_CONFIG_FILENAME_FORMAT.format(model))
            for name, meta in consts.items():
                plain = str(meta.get("path_name", "")).startswith(C.TENSOR_CONSTANT_FILENAME_PREFIX)
                if meta.get("use_pickle") or not plain:
                    raise _refuse(path, f"a pickled constant ({name})")
            program = _bytes_to_dataclass(
                schema.ExportedProgram, reader.read_bytes(C.MODELS_FILENAME_FORMAT.format(model))
            )
            state = pkg._load_state_dict(reader, model)
            constants = pkg._load_constants(reader, model)
        return ExportedProgramDeserializer().deserialize(program, state, constants, None)
    except HwloopError:
        raise
    except SerializeError as exc:  # another torch's schema
        raise HwloopError(f"{path}: {str(exc).splitlines()[0]}") from None
    except (OSError, KeyError, ValueError, RuntimeError, zipfile.BadZipFile) as exc:
        raise HwloopError(f"{path}: not a readable .pt2 archive ({type(exc).__name__})") from None


def input_shape(program: Any) -> tuple[int, ...] | None:
    """The shape (without batch) of the program's one user input, as it was exported."""
    users = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in users:
            val = node.meta.get("val")
            shape = getattr(val, "shape", None)
            if shape is not None and len(shape) >= 2:
                return tuple(int(s) for s in shape[1:])
    return None
