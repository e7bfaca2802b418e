"""The phantom: a simulated micro-expression data set with known AU ground truth, written in the
real CASME II or SAMM layout and read by the same readers. Labels follow the real sheets'
statistics (:mod:`.labels`), faces move by FACS-like AU fields (:mod:`.motion`, :mod:`.render`),
:mod:`.writer` puts a set on disk. Deterministic per seed; everything it makes is *phantom* data.
The book's "The phantom and the preparation" chapter explains the design."""
from .folder import FILE_LIST, MARKER, PhantomFolderError  # noqa: F401
from .labels import (  # noqa: F401
    JOINT_TABLES,
    NUISANCE_AUS,
    SAMM_SUBJECTS,
    STATS_PATH,
    ClipPlan,
    au_string,
    label_stats,
    plan_labels,
    reconstruct_joint_table,
    subject_ids,
)
from .motion import AU_BUMPS, OFFSITE_MIN_IOD, OFFSITE_SHIFT_IOD, FaceFrame, anchor_region, au_bumps, displacement  # noqa: F401
from .render import BaseFace, RenderedClip, Subject, load_base_faces, make_subject, render_clip  # noqa: F401
from .settings import LABEL_STRUCTURES, LIKES, MOTION_ANCHORS, PHANTOM_VERSION, PhantomSettings  # noqa: F401
from .sheets import (  # noqa: F401
    CASME2_COLUMNS,
    CASME2_FRAMES,
    CASME2_SHEET,
    SAMM_COLUMNS,
    SAMM_FRAMES,
    SAMM_SHEET,
    frame_path,
)
from .writer import (  # noqa: F401
    TRUTH_FILE,
    default_phantom_root,
    ensure_phantom,
    is_complete,
    legacy_files,
    read_truth,
    write_phantom,
)
