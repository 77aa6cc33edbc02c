"""Adversarial attacks in input space (docs/method.md §6), one module per family.

Every attack takes a classifier ``model`` (inputs in [0, 1] of any shape (N, ...),
logits (N, C) out; any normalization lives inside the model) and returns inputs that
stay in [0, 1]. The model is put in eval mode for the attack and restored afterwards.

- ``fgsm``: one signed-gradient step.
- ``pgd``: Madry's projected gradient descent, L-inf or L2, cross-entropy or margin
  (CW) loss, random start and restarts (per example the successful, else the
  highest-loss restart is kept).
- ``deepfool``: batched minimal L2 perturbation; it is Newton projection onto the
  nearest class boundary, so it runs on ``core.levelset.project_to_level_set``.
- ``universal_perturbation``: one perturbation for a whole data set (DeepFool inside).
- ``autoattack``: APGD-CE, APGD-T, FAB-T and Square from torchattacks, composed with
  the reference AutoAttack settings (torchattacks' own wrapper uses fewer steps).

``registry`` names them: ``ATTACKS`` maps each name to an ``AttackSpec`` that carries
its run function, and ``run_attack(name, ...)`` runs one at a radius.
"""

from levelset_studio.core.robust.attacks.common import Loss, Norm, eval_mode, predict
from levelset_studio.core.robust.attacks.ensemble import (
    AUTOATTACK_STEPS,
    AUTOATTACK_TARGETS,
    SQUARE_QUERIES,
    AutoAttackResult,
    autoattack,
)
from levelset_studio.core.robust.attacks.gradient import default_step_size, fgsm, pgd
from levelset_studio.core.robust.attacks.minimal import (
    DEEPFOOL_STEP_MARGIN,
    DeepFoolResult,
    deepfool,
    fooling_rate,
    universal_perturbation,
)
from levelset_studio.core.robust.attacks.registry import (
    ATTACKS,
    AttackContext,
    AttackKind,
    AttackSpec,
    attack_spec,
    check_attack_eps,
    run_attack,
)

__all__ = [
    "ATTACKS",
    "AUTOATTACK_STEPS",
    "AUTOATTACK_TARGETS",
    "DEEPFOOL_STEP_MARGIN",
    "SQUARE_QUERIES",
    "AttackContext",
    "AttackKind",
    "AttackSpec",
    "AutoAttackResult",
    "DeepFoolResult",
    "Loss",
    "Norm",
    "attack_spec",
    "autoattack",
    "check_attack_eps",
    "deepfool",
    "default_step_size",
    "eval_mode",
    "fgsm",
    "fooling_rate",
    "pgd",
    "predict",
    "run_attack",
    "universal_perturbation",
]
