"""Checkpoints of the learned magnifier (Oh et al., ECCV 2018) as people have them, mapped onto
:class:`microau.prep.magnify.MagNet`.

Formats, recognised by their keys (``detect_format``):

==============  ==========================================================================
``tf``          the authors' TensorFlow release ``12dmodel/deep_motion_mag`` (variables
                ``ynet_3frames/.../Conv/weights``, HWIO), read from the checkpoint itself
                without TensorFlow (``read_tf_bundle``) or from an ``.npz`` dump of it
``postech``     ``postech-ami/Deep-Motion-Mag-Pytorch``, the author-verified PyTorch
                reimplementation from the first author's lab (``model_state_dict`` in a
                ``.tar``; ``module.`` prefixes from DataParallel are removed)
``zhengpeng7``  ``ZhengPeng7/motion_magnification_learning-based`` (a plain state dict)
``cgst``        ``cgst/motion-magnification``: whole pickled models; their tensors are read by
                a restricted unpickler that never imports or runs anything the file names
``microau``     a state dict of ``MagNet`` (``save_magnet`` also stores its architecture)
==============  ==========================================================================

``factor`` has one meaning for every format: the apex shows the onset -> apex motion multiplied
by ``factor``. Every port was trained on the authors' synthetic data, whose targets carry the
motion multiplied by the amplification value of ``train_mf.txt``, and each passes that value to
its manipulator as it is; so ``amp = factor`` for every format. The ports differ in how the
manipulator uses it (``MagNetArch.multiplier_offset`` and ``manipulator_base``): the TensorFlow
release adds ``(amp - 1) g(.)`` to frame b's shape; the postech and ZhengPeng7 ports add
``amp g(.)`` to frame b's shape; cgst adds ``amp g(.)`` to frame a's shape. A trained network
absorbs the difference into h and g, which is why the checkpoint and its arch go together.
"""
from __future__ import annotations

import io
import logging
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .magnet import MagNetArch
from .tf_bundle import MagnetFormatError, read_tf_bundle  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

FORMAT_REPOS = {
    "tf": "12dmodel/deep_motion_mag",
    "postech": "postech-ami/Deep-Motion-Mag-Pytorch",
    "zhengpeng7": "ZhengPeng7/motion_magnification_learning-based",
    "cgst": "cgst/motion-magnification",
    "microau": "microau (MagNet state dict)",
}

# Each port's architecture, read from its published code (see the module docstring).
FORMAT_ARCHS: dict[str, MagNetArch] = {
    "tf": MagNetArch(),
    "microau": MagNetArch(),
    "postech": MagNetArch(bias=True, encoder_padding="reflect", multiplier_offset=0.0,
                          decoder_up_conv=True),
    "zhengpeng7": MagNetArch(bias=False, encoder_padding="reflect", manipulator_kernel=3,
                             multiplier_offset=0.0, texture_up_conv=False),
    "cgst": MagNetArch(bias=True, encoder_padding="reflect", manipulator_kernel=3, manipulator_base="a",
                       multiplier_offset=0.0, texture_up_conv=False, input_range="0..1"),
}

# a key only this format has (after removing a 'module.' prefix)
_SIGNATURES = {
    "tf": "ynet_3frames/encoder/enc_conv1_c/Conv/weights",
    "postech": "res_manipulator.conv1.weight",
    "zhengpeng7": "encoder.cba_1.conv2d.weight",
    "cgst": "manipulator.conv1.1.weight",
    "microau": "manipulator.g.weight",
}
_NATIVE_TAG = "microau_magnet"


# ----------------------------------------------------------------------------- key maps

def _port_conv_name(fmt: str, ours: str) -> str:
    """The port's name for one of MagNet's convolutions (ours: 'encoder.res.1.conv2', ...)."""
    parts = ours.split(".")
    if fmt == "microau":
        return ours
    block = len(parts) == 4  # <module>.<blocks>.<i>.conv<j>
    i, j = (int(parts[2]), int(parts[3][-1])) if block else (None, None)
    head = parts[0] + "." + parts[1]
    if fmt == "zhengpeng7":
        single = {"encoder.conv1": "encoder.cba_1", "encoder.conv2": "encoder.cba_2",
                  "encoder.texture_conv": "encoder.texture_cba", "encoder.shape_conv": "encoder.motion_cba",
                  "manipulator.g": "manipulator.g", "manipulator.h_conv": "manipulator.h_conv",
                  "decoder.conv1": "decoder.cba_1", "decoder.conv_out": "decoder.cba_2"}
        groups = {"encoder.res": "encoder.resblks.{i}", "encoder.texture_res": "encoder.texture_resblks.{i}",
                  "encoder.shape_res": "encoder.motion_resblks.{i}", "manipulator.h_res": "manipulator.h_resblk",
                  "decoder.res": "decoder.resblks.{i}"}
        base = groups[head].format(i=i) + f".cba_{j}" if block else single[ours]
        return base + ".conv2d"
    if fmt == "postech":
        single = {"encoder.conv1": "encoder.res_encoder.conv1", "encoder.conv2": "encoder.res_encoder.conv2",
                  "encoder.texture_conv": "encoder.conv_tex", "encoder.shape_conv": "encoder.conv_sha",
                  "manipulator.g": "res_manipulator.conv1", "manipulator.h_conv": "res_manipulator.conv2",
                  "decoder.texture_up_conv": "decoder.conv_tex_aft_upsample",
                  "decoder.up_conv": "decoder.res_decoder.conv_up_sample",
                  "decoder.conv1": "decoder.res_decoder.conv1", "decoder.conv_out": "decoder.res_decoder.conv2"}
        groups = {"encoder.res": "encoder.res_encoder.residual", "encoder.texture_res": "encoder.texture_resblk",
                  "encoder.shape_res": "encoder.shape_resblk", "manipulator.h_res": "res_manipulator.residual",
                  "decoder.res": "decoder.res_decoder.residual"}
        return f"{groups[head]}.{i}.conv{j}" if block else single[ours]
    if fmt == "cgst":
        single = {"encoder.conv1": "encoder.conv.1", "encoder.conv2": "encoder.conv.4",
                  "encoder.texture_conv": "encoder.texture.1", "encoder.shape_conv": "encoder.shape.1",
                  "manipulator.g": "manipulator.conv1.1", "manipulator.h_conv": "manipulator.conv2.1",
                  "decoder.conv1": "decoder.deconv.2", "decoder.conv_out": "decoder.deconv.5"}
        groups = {"encoder.res": "encoder.res.{i}", "encoder.texture_res": "encoder.texture.{i3}",
                  "encoder.shape_res": "encoder.shape.{i3}", "manipulator.h_res": "manipulator.conv2.{i2}",
                  "decoder.res": "decoder.res.{i}"}
        if block:
            return groups[head].format(i=i, i2=i + 2, i3=i + 3) + (".block.1" if j == 1 else ".block.4")
        return single[ours]
    if fmt == "tf":
        single = {"encoder.conv1": "encoder/enc_conv1_c", "encoder.conv2": "encoder/enc_conv2_c",
                  "encoder.texture_conv": "encoder/enc_texture_conv", "encoder.shape_conv": "encoder/enc_shape_conv",
                  "manipulator.g": "manipulator/mani_conv0c", "manipulator.h_conv": "manipulator/mani_aft_conv0c",
                  "decoder.texture_up_conv": "decoder/texture_upsample", "decoder.conv1": "decoder/dec_conv2_c",
                  "decoder.conv_out": "decoder/pred_conv"}
        if block:
            name = {"encoder.res": f"encoder/encoder_resblk{i}",
                    "encoder.texture_res": "encoder/texture_enc" + (f"_{i}" if i else ""),
                    "encoder.shape_res": "encoder/shape_enc" + (f"_{i}" if i else ""),
                    "manipulator.h_res": f"manipulator/mani_resblk{i}",
                    "decoder.res": f"decoder/decoder_resblk{i}"}[head] + f"_c{j}"
        else:
            name = single[ours]
        return "ynet_3frames/" + name
    raise MagnetFormatError(f"unknown magnifier format {fmt!r}; known: {', '.join(FORMAT_REPOS)}")


def key_map(fmt: str, arch: MagNetArch | None = None) -> dict[str, str]:
    """MagNet state-dict key -> the port's key (TF: variable name), for every parameter."""
    from . import magnet

    net = magnet.MagNet(arch or FORMAT_ARCHS[fmt])
    out = {}
    for key in net.state_dict():
        conv, leaf = key.rsplit(".", 1)
        theirs = _port_conv_name(fmt, conv)
        if fmt == "tf":
            out[key] = theirs + ("/Conv/weights" if leaf == "weight" else "/Conv/biases")
        else:
            out[key] = f"{theirs}.{leaf}"
    return out


# ----------------------------------------------------------------------------- reading files

def detect_format(keys) -> str | None:
    """The format whose signature key is among ``keys`` (None if none is)."""
    keys = set(keys)
    for fmt, sig in _SIGNATURES.items():
        if sig in keys:
            return fmt
    return None


def read_checkpoint(path: str | Path) -> tuple[dict, dict | None]:
    """(flat name -> tensor/array dict, stored MagNetArch fields or None) from any supported file."""
    path = Path(path).expanduser()
    if path.is_dir() or path.suffix == ".index" or Path(str(path) + ".index").exists():
        return _read_tf_checkpoint(path), None
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k.replace("__", "/"): z[k] for k in z.files}, None
    obj = _read_torch_file(path)
    arch = None
    if isinstance(obj, dict) and obj.get(_NATIVE_TAG):
        arch = obj.get("arch")
    state = _unwrap(obj)
    if all(str(k).startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state, arch


def _read_torch_file(path: Path):
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        log.info("%s is not a plain state dict (a whole pickled model?); reading its tensors "
                 "without running its code", path)
    except Exception as err:
        raise MagnetFormatError(f"magnifier checkpoint {path} could not be read "
                                f"({type(err).__name__}: {' '.join(str(err).split())[:160]})") from None
    try:
        return read_pickled_model(path)
    except MagnetFormatError:
        raise
    except Exception as err:  # a damaged or hostile file: say so in one line
        raise MagnetFormatError(f"magnifier checkpoint {path} could not be read as a pickled model "
                                f"({type(err).__name__}: {' '.join(str(err).split())[:160]})") from None


def _unwrap(obj) -> dict:
    """The parameters inside a checkpoint: a state dict, a container of one, or a module."""
    if isinstance(obj, _Opaque):
        return module_state(obj)
    if isinstance(obj, dict):
        for key in ("model_state_dict", "state_dict", "model", "net", "generator"):
            if key in obj and isinstance(obj[key], (dict, _Opaque)):
                return _unwrap(obj[key])
        flat = {k: v for k, v in obj.items() if hasattr(v, "shape")}
        if flat:
            return flat
    raise MagnetFormatError(f"no magnifier parameters found in the checkpoint (top level: {type(obj).__name__}"
                            f"{' with keys ' + ', '.join(map(str, list(obj)[:6])) if isinstance(obj, dict) else ''})")


def _read_tf_checkpoint(path: Path) -> dict:
    """Variables of a TensorFlow checkpoint (a folder with a ``checkpoint`` file, or the prefix of
    its ``.index``), read without TensorFlow by :func:`read_tf_bundle`."""
    prefix = str(path)[: -len(".index")] if str(path).endswith(".index") else str(path)
    if Path(prefix).is_dir():
        state = Path(prefix) / "checkpoint"
        latest = None
        if state.is_file():  # model_checkpoint_path: "name-1000"
            for line in state.read_text().splitlines():
                if line.startswith("model_checkpoint_path:"):
                    latest = line.split(":", 1)[1].strip().strip('"')
        if latest:  # the recorded path may be absolute and from another machine: fall back to its name
            chosen = Path(prefix) / latest
            if not Path(str(chosen) + ".index").exists():
                chosen = Path(prefix) / Path(latest).name
            candidates = [chosen]
        else:
            candidates = [p.with_suffix("") for p in sorted(Path(prefix).glob("*.index"))]
        if not candidates:
            raise MagnetFormatError(f"{prefix} holds no TensorFlow checkpoint (no 'checkpoint' file, no *.index)")
        prefix = str(candidates[-1])
    try:
        return read_tf_bundle(prefix)
    except MagnetFormatError:
        raise
    except Exception as err:
        raise MagnetFormatError(
            f"TensorFlow checkpoint {prefix} could not be read without TensorFlow ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:120]}); dump it to .npz where TensorFlow is installed: "
            "python -c \"import numpy as np, tensorflow as tf; "
            f"r = tf.train.load_checkpoint('{prefix}'); np.savez('magnet_tf.npz', **{{k.replace('/', '__'): "
            "r.get_tensor(k) for k in r.get_variable_to_shape_map()}})\" and pass magnet_tf.npz") from None


# TensorFlow DataType enum -> numpy dtype (the numeric ones a checkpoint of weights holds)
# ----------------------------------------------------------------------------- restricted unpickler

class _Opaque:
    """Stands in for any class a pickle names: records arguments and state, runs nothing."""

    _qualname = "?"

    def __init__(self, *args, **kwargs):
        self.__dict__["_args"] = args

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            merged = {}
            for part in state:
                if isinstance(part, dict):
                    merged.update(part)
            state = merged
        if isinstance(state, dict):
            self.__dict__.update(state)

    def __repr__(self):
        return f"<opaque {self._qualname}>"


_OPAQUE_TYPES: dict[str, type] = {}


def _opaque_type(module: str, name: str) -> type:
    qual = f"{module}.{name}"
    if qual not in _OPAQUE_TYPES:
        _OPAQUE_TYPES[qual] = type(name, (_Opaque,), {"_qualname": qual})
    return _OPAQUE_TYPES[qual]


_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
}


class _StorageType:
    def __init__(self, dtype: str):
        self.dtype = dtype


class _Storage:
    def __init__(self, dtype: str, numel: int):
        self.dtype, self.numel, self.data = dtype, numel, None


class _LazyTensor:
    """A tensor whose storage bytes come later in the file (the legacy format)."""

    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    @property
    def shape(self):
        return self.size

    def materialize(self):
        import torch

        dtype = getattr(torch, self.storage.dtype)
        if self.storage.data is None:
            raise MagnetFormatError("a tensor's storage is missing from the file (truncated?)")
        flat = torch.frombuffer(bytearray(self.storage.data), dtype=dtype) if self.storage.numel else \
            torch.empty(0, dtype=dtype)
        return flat.as_strided(self.size, self.stride, self.offset).clone()


def _rebuild_tensor(storage, offset, size, stride, *rest):
    return _LazyTensor(storage, offset, size, stride)


def _rebuild_parameter(data, *rest):
    return data


def _reconstructor(cls, base, state=None):
    return cls() if isinstance(cls, type) and issubclass(cls, _Opaque) else _opaque_type("copyreg", "object")()


_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("builtins", "set"): set, ("__builtin__", "set"): set,
    ("builtins", "frozenset"): frozenset, ("__builtin__", "frozenset"): frozenset,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Maps tensors and containers onto inert stand-ins; every other class or function a file
    names becomes an :class:`_Opaque` type, so no code from the file is imported or run."""

    def __init__(self, file, storages: dict, load_storage=None):
        super().__init__(file, encoding="latin1")
        self.storages, self.load_storage = storages, load_storage

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        return _opaque_type(module, name)

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and pid and pid[0] == "module":  # legacy: (tag, class, file, source)
            return pid[1]  # the class (an opaque stand-in); the saved source is never used
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.60}")
        storage_type, key, _location, numel = pid[1:5]
        dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else "uint8"
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(dtype, int(numel))
            if self.load_storage is not None:
                self.storages[key].data = self.load_storage(key)
        storage = self.storages[key]
        view = pid[5] if len(pid) > 5 else None
        if view:  # (view_key, offset, size): old files only
            _view_key, off, size = view
            sub = _Storage(storage.dtype, int(size))
            sub.parent, sub.view_offset = storage, int(off)
            return sub
        return storage


def read_pickled_model(path: str | Path):
    """The object tree of a ``torch.save``-d file (zip or legacy format), with tensors, and every
    other class as an inert :class:`_Opaque`; never imports or runs anything the file names."""
    path = Path(path)
    storages: dict = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if pkl is None:
                raise MagnetFormatError(f"{path} is a zip file without data.pkl: not a torch checkpoint")
            root = pkl[: -len("data.pkl")]
            obj = _RestrictedUnpickler(io.BytesIO(z.read(pkl)), storages,
                                       lambda key: z.read(f"{root}data/{key}")).load()
    else:
        with open(path, "rb") as f:
            up = _RestrictedUnpickler(f, storages)
            magic = up.load()
            if magic != 0x1950A86A20F9469CFC6C:
                raise MagnetFormatError(f"{path} is neither a zip nor a legacy torch file")
            up.load()  # protocol version
            up.load()  # sys info
            obj = _RestrictedUnpickler(f, storages).load()
            keys = _RestrictedUnpickler(f, {}).load()
            for key in keys:
                st = storages[str(key)]
                numel = int.from_bytes(f.read(8), "little")
                itemsize = np.dtype(st.dtype if st.dtype != "bfloat16" else "uint16").itemsize
                st.data = f.read(numel * itemsize)
                if len(st.data) != numel * itemsize:
                    raise MagnetFormatError(f"{path} ends inside a tensor: truncated file")
    for st in storages.values():  # views share their parent's bytes
        parent = getattr(st, "parent", None)
        if parent is not None:
            size = np.dtype(st.dtype).itemsize
            st.data = parent.data[st.view_offset * size: (st.view_offset + st.numel) * size]
    return _materialize(obj)


def _materialize(obj):
    if isinstance(obj, _LazyTensor):
        return obj.materialize()
    if isinstance(obj, dict):
        return type(obj)((k, _materialize(v)) for k, v in obj.items()) if isinstance(obj, OrderedDict) \
            else {k: _materialize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v) for v in obj)
    if isinstance(obj, _Opaque):
        for k, v in list(obj.__dict__.items()):
            obj.__dict__[k] = _materialize(v)
    return obj


def module_state(module: _Opaque, prefix: str = "") -> dict:
    """The state dict of an unpickled (opaque) torch module: its parameters and persistent
    buffers, named as ``state_dict()`` names them."""
    out = {}
    for group in ("_parameters", "_buffers"):
        for name, value in (module.__dict__.get(group) or {}).items():
            if value is not None and hasattr(value, "shape"):
                out[prefix + name] = value
    for name, child in (module.__dict__.get("_modules") or {}).items():
        if isinstance(child, _Opaque):
            out.update(module_state(child, f"{prefix}{name}."))
    return out


# ----------------------------------------------------------------------------- loading

def to_magnet_state(state: dict, fmt: str, arch: MagNetArch) -> dict:
    """The port's tensors renamed (and TF kernels transposed HWIO -> OIHW) into MagNet's keys.

    Raises :class:`MagnetFormatError` naming the first missing, unexpected or mis-shaped keys."""
    import torch

    from . import magnet

    own = magnet.MagNet(arch).state_dict()
    mapping = key_map(fmt, arch)
    missing = [theirs for ours, theirs in mapping.items() if theirs not in state]
    known = set(mapping.values())
    relevant = (lambda k: k.startswith("ynet_3frames/") and "/Adam" not in k and "Momentum" not in k) \
        if fmt == "tf" else (lambda k: True)
    unexpected = [k for k in state if k not in known and relevant(k)]
    out, shaped = {}, []
    for ours, theirs in mapping.items():
        if theirs not in state:
            continue
        t = torch.as_tensor(np.asarray(state[theirs]) if not hasattr(state[theirs], "dim") else state[theirs])
        if fmt == "tf" and t.ndim == 4:
            t = t.permute(3, 2, 0, 1)
        t = t.float().contiguous()
        if tuple(t.shape) != tuple(own[ours].shape):
            shaped.append(f"{theirs} {tuple(t.shape)} vs {tuple(own[ours].shape)}")
        out[ours] = t
    if missing or unexpected or shaped:
        parts = [f"{len(v)} {label}: {', '.join(v[:4])}{' ...' if len(v) > 4 else ''}"
                 for label, v in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shaped)) if v]
        raise MagnetFormatError(f"the checkpoint looks like {fmt} ({FORMAT_REPOS[fmt]}) but does not fit "
                                f"MagNet with that port's architecture ({'; '.join(parts)})")
    return out


def load_magnet(path: str | Path, fmt: str | None = None):
    """A :class:`MagNet` (eval mode, CPU) with the weights of ``path`` in any supported format."""
    from . import magnet

    path = Path(path).expanduser()
    state, stored_arch = read_checkpoint(path)
    found = fmt or detect_format(state)
    if found is None:
        raise MagnetFormatError(
            f"checkpoint {path} does not fit MagNet in any known format (first keys: "
            f"{', '.join(list(map(str, state))[:4])}); known formats: "
            + "; ".join(f"{k} = {v}" for k, v in FORMAT_REPOS.items()))
    arch = FORMAT_ARCHS[found]
    if stored_arch:
        arch = MagNetArch(**stored_arch)
    elif found == "microau":
        arch = MagNetArch(bias="encoder.conv1.bias" in state,
                          texture_up_conv="decoder.texture_up_conv.weight" in state,
                          decoder_up_conv="decoder.up_conv.weight" in state)
    net = magnet.MagNet(arch)
    net.load_state_dict(to_magnet_state(state, found, arch))
    net.source_format = found
    log.info("learned magnifier: %s checkpoint (%s) from %s", found, FORMAT_REPOS[found], path)
    return net.eval()


def save_magnet(net, path: str | Path) -> Path:
    """Save ``net`` in microau's own format (state dict and architecture), via a temporary name."""
    import torch

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({_NATIVE_TAG: 1, "arch": net.arch.to_dict(), "state_dict": net.state_dict()}, tmp)
    os.replace(tmp, path)
    return path
