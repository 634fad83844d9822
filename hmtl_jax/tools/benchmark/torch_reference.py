"""The PyTorch reference for the same supervised step, timed in the same run: what users of a PyTorch FER repository
get. timm's model when timm is importable (the issue's reference numbers are timm's), else torchvision's; bf16
autocast, channels_last, AdamW, cross-entropy; eager, or with torch.compile."""

from __future__ import annotations

import importlib.util
import statistics
import time

MODELS = {"efficientnet_b0", "resnet18", "resnet50"}  # the backbones that exist in timm and torchvision alike


def available() -> bool:
    return importlib.util.find_spec("torch") is not None and (
        importlib.util.find_spec("timm") is not None or importlib.util.find_spec("torchvision") is not None
    )


def _create(name: str, num_classes: int):
    if importlib.util.find_spec("timm") is not None:
        import timm

        return timm.create_model(name, num_classes=num_classes), "timm"
    import torchvision

    return getattr(torchvision.models, name)(num_classes=num_classes), "torchvision"


def sl_images_per_second(
    name: str, image_size: int, batch_size: int, *, bf16: bool, compiled: bool, steps: int, rounds: int = 3
) -> tuple[float, str]:
    """(images/s of the median round, 'timm eager' / 'torchvision compiled' ...)."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, source = _create(name, 8)
    model = model.to(device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images = torch.rand(batch_size, 3, image_size, image_size, device=device).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 8, (batch_size,), device=device)

    def step():
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    if compiled:
        step = torch.compile(step)

    def synchronize():
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):  # compile and warm up
        step()
    synchronize()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize()
        times.append((time.perf_counter() - started) / steps)
    return batch_size / statistics.median(times), f"{source} {'compiled' if compiled else 'eager'}"
