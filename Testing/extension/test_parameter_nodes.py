"""Both panels' typed parameter nodes can be created and written as Slicer's parameterNodeWrapper does it.

The rules come from Slicer's Base/Python/slicer/parameterNodeWrapper (re-stated in ``slicer_stand_ins``,
the slicer-core wheel does not ship the package): creating a wrapper writes every absent field's
default (wrapper.py ``_initMethod``); a node field's default is None; a ``Union`` of node types
can only write None when ``None`` is one of its members (serializers.py
``UnionSerializer._findBestSerializer``; Docs/developer_guide/parameter_nodes/gui_connection.md:
"The None is necessary for the parameter node wrapper default node of None to work correctly").
"""

import pytest

MODULES = {"DTCSegmentation": "DTCSegmentationParameterNode", "DTCTraining": "DTCTrainingParameterNode"}


@pytest.mark.parametrize("module_name", MODULES)
def test_every_node_field_accepts_its_default_none(stand_ins, module_name):
    cls = getattr(stand_ins.load_module(module_name), MODULES[module_name])
    fields = stand_ins.parameter_fields(cls)
    node_fields = {name: actual for name, (actual, _, _) in fields.items()
                   if stand_ins.is_node_type(actual) or any(map(stand_ins.is_node_type, stand_ins.union_members(actual) or ()))}
    if module_name == "DTCSegmentation":
        assert {"inputNode", "masks", "liveImage"} <= set(node_fields)
    for name, actual in node_fields.items():
        assert fields[name][2] is None, name
        stand_ins.check_writable(name, actual, None)  # raises as Slicer does if the field cannot hold None


@pytest.mark.parametrize("module_name", MODULES)
def test_the_logic_creates_the_parameter_node_and_restores_it(stand_ins, module_name):
    module = stand_ins.load_module(module_name)
    logic = getattr(module, f"{module_name}Logic")()
    parameters = logic.getParameterNode()
    again = getattr(module, MODULES[module_name])(parameters.parameterNode)
    for name in stand_ins.parameter_fields(type(parameters)):
        assert getattr(again, name) == getattr(parameters, name), name


def test_segmentation_input_and_masks_take_each_node_kind_and_none(stand_ins, mrml):
    module = stand_ins.load_module("DTCSegmentation")
    parameters = module.DTCSegmentationLogic().getParameterNode()
    scene = mrml.mrmlScene
    for class_name in ("vtkMRMLSequenceBrowserNode", "vtkMRMLSequenceNode", "vtkMRMLScalarVolumeNode"):
        node = scene.AddNewNodeByClass(class_name)
        parameters.inputNode = node
        assert parameters.inputNode is node
    parameters.inputNode = None
    assert parameters.inputNode is None
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    parameters.masks = labelmap
    assert parameters.masks is labelmap
    with pytest.raises(TypeError):
        parameters.masks = scene.AddNewNodeByClass("vtkMRMLTableNode")

