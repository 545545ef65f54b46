"""Checks run by ``tests/nnunet/test_trainers.py`` inside the nnU-Net environment; prints one JSON object.

    python tests/nnunet/venv_checks.py networks PREPROCESSED_DATASET_DIR PLANS_NAME...
    python tests/nnunet/venv_checks.py pretrained PREPROCESSED_DATASET_DIR PLANS_NAME PLAIN_CHECKPOINT  # fold 0
    python tests/nnunet/venv_checks.py lookup TRAINER_NAME...

``networks``: for each plans file, ``nnUNetTrainerDCA.build_network_architecture`` (as training and
``nnUNetv2_predict`` call it) on the 3d_fullres configuration: the wrapped class, the keys next to the
plain network's, the output shapes with and without deep supervision, and the error for a plans
architecture it cannot wrap. ``pretrained``: nnU-Net's own ``load_pretrained_weights`` (what
``-pretrained_weights`` runs) into an initialised DCA trainer: which weights came from the file and
whether the DCA weights kept their initialisation. ``lookup``: the classes nnU-Net's own lookup by name
(``nnUNetv2_train -tr NAME``) finds, with ``nnUNet_extTrainer`` as the caller set it.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import torch
from nnunetv2.run.load_pretrained_weights import load_pretrained_weights
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

from dca_monai.nnunet.trainers import nnUNetTrainerDCA


def _plans(dataset_dir: Path, plans_name: str) -> dict:
    return json.loads((dataset_dir / f"{plans_name}.json").read_text())


def networks(dataset_dir: Path, plans_names: list[str]) -> dict:
    result = {}
    for plans_name in plans_names:
        plans = PlansManager(_plans(dataset_dir, plans_name))
        configuration = plans.get_configuration("3d_fullres")
        torch.manual_seed(0)
        plain = nnUNetTrainer.build_network_architecture(plans, configuration, 1, 6, True)
        torch.manual_seed(0)
        network = nnUNetTrainerDCA.build_network_architecture(plans, configuration, 1, 6, True)
        plain_state, state = plain.state_dict(), network.state_dict()
        x = torch.randn(1, 1, *configuration.patch_size)
        with torch.no_grad():
            deep = network(x)
            network.decoder.deep_supervision = False  # what nnU-Net's set_deep_supervision_enabled switches
            single = network(x)
        result[plans_name] = {
            "plain_class": type(plain).__name__,
            "class": type(network).__name__,
            "skip_channels": network.dca.skip_channels,
            "encoder_channels": list(plain.encoder.output_channels),
            "plain_keys_kept": sorted(plain_state) == sorted(k for k in state if not k.startswith("dca.")),
            "same_plain_init": all(torch.equal(plain_state[k], state[k]) for k in plain_state),
            "dca_keys": sum(k.startswith("dca.") for k in state),
            "deep_supervision_shapes": [list(o.shape) for o in deep],
            "shape": list(single.shape),
            "patch_size": list(configuration.patch_size),
        }
    unwrappable = _plans(dataset_dir, plans_names[0])
    unwrappable = copy.deepcopy(unwrappable)
    unwrappable["configurations"]["3d_fullres"]["architecture"]["network_class_name"] = "torch.nn.Identity"
    plans = PlansManager(unwrappable)
    try:
        nnUNetTrainerDCA.build_network_architecture(plans, plans.get_configuration("3d_fullres"), 1, 6, True)
        result["unwrappable_error"] = None
    except TypeError as error:
        result["unwrappable_error"] = str(error)
    return result


def pretrained(dataset_dir: Path, plans_name: str, checkpoint: Path) -> dict:
    from nnunetv2.run.run_training import get_trainer_from_args

    # as nnUNetv2_train creates it (the trainer found by name through nnUNet_extTrainer)
    trainer = get_trainer_from_args(
        dataset_dir.name, "3d_fullres", 0, "nnUNetTrainerDCA", plans_name, device=torch.device("cpu")
    )
    trainer.initialize()
    network = trainer.network
    plain_view_after_initialize = network.accepts_plain_weights
    network.accepts_plain_weights = False
    before = {k: v.clone() for k, v in network.state_dict().items()}
    network.accepts_plain_weights = plain_view_after_initialize
    load_pretrained_weights(network, str(checkpoint))
    network.accepts_plain_weights = False
    after = network.state_dict()
    source = torch.load(checkpoint, map_location="cpu", weights_only=False)["network_weights"]
    plain_keys = [k for k in after if not k.startswith("dca.") and ".seg_layers." not in k]
    return {
        "plain_view_after_initialize": plain_view_after_initialize,
        "plain_keys": len(plain_keys),
        "from_file": sum(torch.equal(after[k], source[k]) for k in plain_keys),
        "changed_by_file": sum(not torch.equal(after[k], before[k]) for k in plain_keys),
        "dca_keys": sum(k.startswith("dca.") for k in after),
        "dca_kept": all(torch.equal(after[k], before[k]) for k in after if k.startswith("dca.")),
    }


def lookup(names: list[str]) -> dict:
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    found = {}
    for name in names:
        trainer = recursive_find_trainer_class_by_name(name)
        found[name] = {
            "module": trainer.__module__,
            "is_dca": issubclass(trainer, nnUNetTrainerDCA),
            "dca_args": getattr(trainer, "dca_args", None),
        }
    return found


if __name__ == "__main__":
    command, dataset = sys.argv[1], Path(sys.argv[2])
    if command == "lookup":
        output = lookup(sys.argv[2:])
    elif command == "networks":
        output = networks(dataset, sys.argv[3:])
    elif command == "pretrained":
        output = pretrained(dataset, sys.argv[3], Path(sys.argv[4]))
    else:
        raise SystemExit(f"command={command!r} but 'networks' or 'pretrained' was expected")
    print("RESULT " + json.dumps(output))
