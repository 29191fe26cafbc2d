"""Knowledge distillation from the frozen teacher (temperature-scaled MSE of sigmoids)."""

import torch
import torch.nn.functional as F


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0) -> torch.Tensor:
    """Temperature-scaled distillation: ``T^2 * MSE(sigmoid(s / T), sigmoid(t / T))``.

    The teacher is a fixed target: no gradient flows into ``teacher_logits``.
    """
    soft_student = torch.sigmoid(student_logits / temperature)
    soft_teacher = torch.sigmoid(teacher_logits.detach() / temperature)
    return F.mse_loss(soft_student, soft_teacher) * temperature**2
