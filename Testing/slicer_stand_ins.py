"""Stand-ins for what a running 3D Slicer adds to the ``slicer-core`` wheel, so that the two module
files (``DTCSegmentation.py``, ``DTCTraining.py``) import and their panels' code runs headless.

The wheel ships MRML, the module logics and ``slicer.util`` (the real ``tryWithErrorDisplay``,
``VTKObservationMixin``, array helpers), but not Qt, CTK, the application object, nor
``Base/Python/slicer/{ScriptedLoadableModule.py, parameterNodeWrapper/, i18n.py}``.  Each stand-in
re-states only the behaviour the extension tests rely on and names the Slicer source (tag v5.8.1;
v5.6.2 and main agree unless noted) it re-states.  Scenes, nodes and logics are the real ones.

Use :func:`installed` (a context manager) or :func:`install` (for a subprocess), then
:func:`load_module` to import a module file.
"""

import contextlib
import importlib.util
import pathlib
import sys
import types
import typing
import unittest

import slicer
import vtk

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- Qt and CTK
class Signal:
    """A Qt signal: ``connect`` / ``disconnect`` / ``emit``."""

    def __init__(self):
        self.slots = []

    def connect(self, slot):
        self.slots.append(slot)

    def disconnect(self, slot=None):
        self.slots = [s for s in self.slots if slot is not None and s != slot]

    def emit(self, *args):
        for slot in list(self.slots):
            slot(*args)

    def __call__(self, *args, **kwargs):  # a method the tests do not look at (widget.layout().addWidget(...))
        return Widget()


class Widget:
    """Any Qt widget: free attributes (``enabled``, ``checked``, ``text``, ``toolTip`` ...) and ``connect``.

    ``connect("toggled(bool)", slot)`` is how the module files connect PythonQt signals by signature.
    """

    NOTIFY = {"checked": "toggled", "currentPath": "currentPathChanged", "value": "valueChanged"}
    """Properties whose change Qt announces with a signal (QAbstractButton::toggled, ctkPathLineEdit::currentPathChanged ...)."""

    def __init__(self, **properties):
        self.__dict__["signals"] = {}
        self.__dict__.update(enabled=True, checked=False, visible=True, text="", toolTip="", currentPath="", value=0)
        self.__dict__.update(properties)

    def __setattr__(self, name, value):
        changed = self.__dict__.get(name, object()) != value
        self.__dict__[name] = value
        if changed and name in self.NOTIFY and self.NOTIFY[name] in self.signals:
            self.signals[self.NOTIFY[name]].emit(value)

    def connect(self, signature, slot):
        self.signals.setdefault(signature.split("(")[0], Signal()).connect(slot)

    def __getattr__(self, name):  # e.g. widget.clicked.connect(...), layout(), clear()
        if name.startswith("__"):
            raise AttributeError(name)
        signal = Signal()
        setattr(self, name, signal)
        return signal


class PathLineEdit(Widget):
    """``ctkPathLineEdit`` (CTK Libs/Widgets/ctkPathLineEdit.cpp): the history under ``settingKey``
    grows only through ``addCurrentPathToHistory()``, which ignores an empty path and moves an
    existing entry to the front."""

    Dirs, Files = 1, 2

    def __init__(self, settingKey=""):
        super().__init__(settingKey=settingKey)

    def addCurrentPathToHistory(self):
        if not self.currentPath:
            return
        history = [path for path in QSettings().value(self.settingKey, []) if path != self.currentPath]
        QSettings().setValue(self.settingKey, [self.currentPath] + history)


class QSettings:
    """``QSettings()``: one application-wide store; ``value(key, default)`` gives ``default`` when absent."""

    store = {}

    def value(self, key, default=None):
        return self.store.get(key, default)

    def setValue(self, key, value):
        self.store[key] = value

    def contains(self, key):
        return key in self.store


class QTimer:
    def __init__(self):
        self.active, self.interval, self.timeout = False, 0, Signal()

    def setInterval(self, milliseconds):
        self.interval = milliseconds

    def start(self, *args):
        self.active = True

    def stop(self):
        self.active = False

    def isActive(self):
        return self.active

    def connect(self, signature, slot):
        self.timeout.connect(slot)


class QElapsedTimer:
    def start(self):
        pass

    def restart(self):
        return 0

    def elapsed(self):
        return 0


def _qt_module():
    qt = types.ModuleType("qt")
    qt.QTimer, qt.QElapsedTimer, qt.QSettings = QTimer, QElapsedTimer, QSettings
    qt.QFileDialog = types.SimpleNamespace(getSaveFileName=lambda *args: "", getOpenFileName=lambda *args: "")
    qt.Qt = types.SimpleNamespace(WaitCursor=3)
    qt.QWidget = qt.QPushButton = qt.QLabel = Widget
    return qt


def _ctk_module():
    ctk = types.ModuleType("ctk")
    ctk.ctkPathLineEdit = PathLineEdit
    return ctk


# ---------------------------------------------------------------------- the application
class Application:
    """``slicer.app``: cursor, testing mode, event processing, ``startupCompleted()``, its logics.

    As in the application: the application logic gets the scene first (it adds the slice orientation
    presets, vtkMRMLApplicationLogic.cxx), the layout logic makes the view nodes, each slice view has a
    ``vtkMRMLSliceLogic`` set up as qMRMLSliceControllerWidget does it (application logic, scene, slice
    node) and registered with the application logic, and the Plots module's logic is the real
    ``vtkSlicerPlotsLogic``.
    """

    def __init__(self, scene, testing=False):
        self.testing = testing
        self.cursors = []
        self.reset_3d_views = []  # calls of layoutManager().resetThreeDViews()
        self.startup = Signal()
        self.application_logic = slicer.vtkSlicerApplicationLogic()
        self.application_logic.SetMRMLScene(scene)
        self.layout_logic = slicer.vtkMRMLLayoutLogic()
        self.layout_logic.SetMRMLScene(scene)
        self.plots_logic = slicer.vtkSlicerPlotsLogic()
        self.plots_logic.SetMRMLApplicationLogic(self.application_logic)
        self.plots_logic.SetMRMLScene(scene)
        self.slice_logics = vtk.vtkCollection()
        for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
            slice_logic = slicer.vtkMRMLSliceLogic()
            slice_logic.SetMRMLApplicationLogic(self.application_logic)
            slice_logic.SetMRMLScene(scene)
            slice_logic.SetSliceNode(scene.GetNthNodeByClass(index, "vtkMRMLSliceNode"))
            self.slice_logics.AddItem(slice_logic)
        self.application_logic.SetSliceLogics(self.slice_logics)

    def layoutManager(self):
        """``setLayout`` sets the layout node's view arrangement (qSlicerLayoutManager); the slice views' logics."""
        logics = {self.slice_logics.GetItemAsObject(index).GetSliceNode().GetLayoutName(): self.slice_logics.GetItemAsObject(
            index) for index in range(self.slice_logics.GetNumberOfItems())}
        return types.SimpleNamespace(
            setLayout=self.layout_logic.GetLayoutNode().SetViewArrangement,
            layout=self.layout_logic.GetLayoutNode().GetViewArrangement,
            sliceViewNames=lambda: list(logics), mrmlSliceLogics=lambda: self.slice_logics,
            resetThreeDViews=lambda: self.reset_3d_views.append(True),  # qSlicerLayoutManager: refocus the 3D views
            sliceWidget=lambda name: types.SimpleNamespace(sliceLogic=lambda: logics[name],
                                                           mrmlSliceNode=lambda: logics[name].GetSliceNode()))

    def testingEnabled(self):
        return self.testing

    def setOverrideCursor(self, cursor):
        self.cursors.append(cursor)

    def restoreOverrideCursor(self):
        self.cursors.pop()

    def processEvents(self):
        pass

    def connect(self, signature, slot):
        assert signature == "startupCompleted()", signature
        self.startup.connect(slot)

    def applicationLogic(self):
        return self.application_logic


# ---------------------------------------------------------------------- Base/Python/slicer/ScriptedLoadableModule.py
class ScriptedLoadableModule:
    def __init__(self, parent):
        self.parent = parent
        self.moduleName = self.__class__.__name__


class ScriptedLoadableModuleWidget:
    """The module panel; ``setup()`` runs as in Slicer, with ``loadUI`` giving stand-ins of the .ui file's widgets."""

    reloads = []

    def __init__(self, parent=None):
        self.moduleName = self.__class__.__name__[:-len("Widget")]
        self.parent = parent if parent is not None else types.SimpleNamespace(isEntered=True)
        self.layout = Widget()

    def setup(self):
        pass

    def resourcePath(self, filename):
        """``<module folder>/Resources/<filename>`` (``os.path.dirname(slicer.util.modulePath(moduleName))``)."""
        return str(REPO_ROOT / self.moduleName / "Resources" / filename)

    def onReload(self):
        """ScriptedLoadableModule.py ``onReload``: ``slicer.util.reloadScriptedModule(self.moduleName)``."""
        self.reloads.append(self.moduleName)


class ScriptedLoadableModuleLogic:
    def __init__(self, parent=None):
        self.moduleName = self.__class__.__name__[:-len("Logic")]

    def getParameterNode(self):
        """The scene's singleton ``vtkMRMLScriptedModuleNode`` tagged with the module name (``getParameterNode``)."""
        node = slicer.mrmlScene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.vtkMRMLScriptedModuleNode()
            node.SetSingletonTag(self.moduleName)
            node.SetName(slicer.mrmlScene.GenerateUniqueName(self.moduleName))
            node.SetAttribute("ModuleName", self.moduleName)
            node = slicer.mrmlScene.AddNode(node)
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message, *args, **kwargs):
        pass


# ---------------------------------------------------------------------- Base/Python/slicer/parameterNodeWrapper/
class Validator:
    def validate(self, value):
        pass


class Choice(Validator):
    def __init__(self, choices):
        self.choices = choices

    def validate(self, value):
        if value not in self.choices:
            raise ValueError(f"Value must be one of {self.choices}, is {value}")


class WithinRange(Validator):
    """validators.py ``WithinRange``: inclusive."""

    def __init__(self, minimum, maximum):
        self.minimum, self.maximum = minimum, maximum

    def validate(self, value):
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"Value must be within range [{self.minimum}, {self.maximum}], is {value}")


class Minimum(Validator):
    def __init__(self, minimum):
        self.minimum = minimum

    def validate(self, value):
        if value < self.minimum:
            raise ValueError(f"Value must be greater than {self.minimum}, is {value}")


class Maximum(Validator):
    def __init__(self, maximum):
        self.maximum = maximum

    def validate(self, value):
        if value > self.maximum:
            raise ValueError(f"Value must be less than {self.maximum}, is {value}")


PATH_TYPES = (pathlib.Path, pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePath, pathlib.PurePosixPath,
              pathlib.PureWindowsPath)


def split_annotated(annotation):
    """``(type, [annotations])`` of ``Annotated[type, ...]`` (parameterNodeWrapper/util.py ``splitAnnotations``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        actual, *extras = typing.get_args(annotation)
        return actual, list(extras)
    return annotation, []


def is_node_type(type_):
    """serializers.py ``NodeSerializer.canSerialize``: a vtkMRMLNode subclass."""
    return isinstance(type_, type) and issubclass(type_, slicer.vtkMRMLNode)


def union_members(type_):
    return typing.get_args(type_) if typing.get_origin(type_) is typing.Union else None


def serializer_default(type_):
    """The default a field without ``= value`` gets (each serializer's ``default()``).

    serializers.py: ``NodeSerializer`` None, ``PathSerializer`` ``type_()`` (``Path()`` is ``.``),
    ``NumberSerializer`` ``type_()``, ``StringSerializer`` "", ``BoolSerializer`` False;
    ``UnionSerializer.default``: None for exactly ``(X, None)``, else the first member's default.
    """
    members = union_members(type_)
    if members is not None:
        if len(members) == 2 and members[1] is type(None):
            return None
        return serializer_default(members[0])
    if is_node_type(type_):
        return None
    return type_()


def check_writable(name, type_, value):
    """Raise as Slicer's serializers do when ``value`` cannot be written to a field of ``type_``.

    serializers.py ``UnionSerializer._findBestSerializer`` (v5.6.2 and v5.8.1 l.925-934, main l.1005-1014):
    the first member whose serializer ``canSerialize(type(value))`` takes it, else
    ``TypeError("Unable to write value ...")``; ``NodeSerializer.canSerialize(type(None))`` is False and
    ``NoneSerializer`` (a ``None`` member) takes None.  A plain node type takes None (``IsInstance``
    lets None through, validators.py l.78-80).
    """
    members = union_members(type_)
    if members is None:
        if is_node_type(type_) and value is not None and not isinstance(value, type_):
            raise TypeError(f"Value must be of type '{type_}', is type '{type(value)}' value '{value}'")
        return
    for member in members:
        if member is type(None) and value is None:
            return
        if is_node_type(member) and value is not None and isinstance(value, member):
            return
        if not is_node_type(member) and member is not type(None) and isinstance(value, member):
            return
    raise TypeError(f"Unable to write value '{value}' of type '{type(value)}' to {name}")


def parameter_fields(cls):
    """``{name: (type, annotations, default)}`` of a class as ``@parameterNodeWrapper`` reads it."""
    if hasattr(cls, "allParameters"):  # already wrapped
        return cls.allParameters
    fields = {}
    for name, annotation in typing.get_type_hints(cls, include_extras=True).items():
        actual, extras = split_annotated(annotation)
        default = cls.__dict__[name] if name in cls.__dict__ else serializer_default(actual)
        fields[name] = (actual, extras, default)
    return fields


def parameterNodeWrapper(cls):
    """``@parameterNodeWrapper`` (wrapper.py): on construction every field absent from the node gets its
    default written (``_initMethod``, v5.8.1 l.130-134), so an unwritable default fails there.

    Values live in the ``vtkMRMLScriptedModuleNode``: nodes as node references, the rest as strings.
    """
    fields = parameter_fields(cls)

    def init(self, parameterNode):
        object.__setattr__(self, "parameterNode", parameterNode)
        for name, (actual, _, default) in fields.items():
            if not parameterNode.HasParameter(name):
                setattr(self, name, default)

    def getter(name, actual):
        def read(self):
            node = self.parameterNode
            if is_node_type(actual) or union_members(actual) and any(map(is_node_type, union_members(actual))):
                return node.GetNodeReference(name)
            text = node.GetParameter(name)
            if actual is bool:
                return text == "True"
            if actual in (int, float) or actual in PATH_TYPES:
                return actual(text)
            return text
        return read

    def setter(name, actual, extras):
        def write(self, value):
            check_writable(name, actual, value)
            for extra in extras:
                extra.validate(value)
            node = self.parameterNode
            node.SetParameter(name, "")
            if is_node_type(actual) or union_members(actual) and any(map(is_node_type, union_members(actual))):
                node.SetNodeReferenceID(name, value.GetID() if value is not None else None)
            else:
                node.SetParameter(name, str(value))
        return write

    namespace = {"__init__": init, "__doc__": cls.__doc__, "allParameters": fields,
                 "connectGui": lambda self, gui: object(), "disconnectGui": lambda self, tag: None,
                 "AddObserver": lambda self, *args: self.parameterNode.AddObserver(*args),
                 "RemoveObserver": lambda self, *args: self.parameterNode.RemoveObserver(*args)}
    for name, (actual, extras, _) in fields.items():
        namespace[name] = property(getter(name, actual), setter(name, actual, extras))
    return type(cls.__name__, (), namespace)


def _parameter_node_wrapper_module():
    module = types.ModuleType("slicer.parameterNodeWrapper")
    for item in (parameterNodeWrapper, Choice, WithinRange, Minimum, Maximum, Validator):
        setattr(module, item.__name__, item)
    return module


# ---------------------------------------------------------------------- Modules/Scripted/SampleData/SampleData.py
class SampleDataLogic:
    """``registerCustomSampleDataSource``: the keywords 5.6.2, 5.8.1 and main all take, and the check
    ``SampleDataSource.__init__`` makes (a str ``uris`` turns each field into a one-item list; the
    fields are zipped with ``fileNames``, so a missing file name or URI fails)."""

    sources = {}

    @staticmethod
    def registerCustomSampleDataSource(category="Custom", sampleName=None, uris=None, fileNames=None, nodeNames=None,
                                       customDownloader=None, thumbnailFileName=None, loadFiles=None,
                                       loadFileProperties={}, checksums=None):
        if isinstance(uris, str):
            uris, fileNames, nodeNames = [uris], [fileNames], [nodeNames]
        list(zip(fileNames, nodeNames))  # TypeError for None, as in SampleDataSource
        if not len(uris) == len(fileNames) == len(nodeNames):
            raise ValueError("All fields of sample data source must have the same length")
        source = types.SimpleNamespace(sampleName=sampleName, uris=uris, fileNames=fileNames, nodeNames=nodeNames,
                                       customDownloader=customDownloader, thumbnailFileName=thumbnailFileName)
        SampleDataLogic.sources.setdefault(category, []).append(source)

    @staticmethod
    def click(category, sampleName):
        """The Sample Data panel's button: ``source.customDownloader(source)`` (SampleData.py)."""
        source = next(s for s in SampleDataLogic.sources[category] if s.sampleName == sampleName)
        return source.customDownloader(source)


# ---------------------------------------------------------------------- fepegar/SlicerPyTorch PyTorchUtils.py
class PyTorchUtilsLogic:
    """The two calls the modules make; ``installTorch`` with the real signature, recording its arguments."""

    installs = []
    present = False

    @staticmethod
    def torchInstalled():
        return PyTorchUtilsLogic.present

    def installTorch(self, askConfirmation=False, forceComputationBackend=None, torchVersionRequirement=None,
                     torchvisionVersionRequirement=None):
        PyTorchUtilsLogic.installs.append({"askConfirmation": askConfirmation,
                                           "torchVersionRequirement": torchVersionRequirement})
        return types.SimpleNamespace(__version__="stand-in")


# ---------------------------------------------------------------------- installing them
def _modules(testing):
    scripted = types.ModuleType("slicer.ScriptedLoadableModule")
    for item in (ScriptedLoadableModule, ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic,
                 ScriptedLoadableModuleTest):
        setattr(scripted, item.__name__, item)
    i18n = types.ModuleType("slicer.i18n")
    # i18n.py tr(): app.translate(context, text), which returns ``text`` when no translation is loaded
    i18n.tr = lambda text: text
    i18n.translate = lambda context, text: text
    sample_data = types.ModuleType("SampleData")
    sample_data.SampleDataLogic = SampleDataLogic
    pytorch_utils = types.ModuleType("PyTorchUtils")
    pytorch_utils.PyTorchUtilsLogic = PyTorchUtilsLogic
    return {"qt": _qt_module(), "ctk": _ctk_module(), "slicer.ScriptedLoadableModule": scripted,
            "slicer.parameterNodeWrapper": _parameter_node_wrapper_module(), "slicer.i18n": i18n,
            "SampleData": sample_data, "PyTorchUtils": pytorch_utils}


def install(testing=False, scene=None):
    """Put the stand-ins in place for good (in a subprocess); returns the application stand-in."""
    for name, module in _modules(testing).items():
        sys.modules[name] = module
        if name.startswith("slicer."):
            setattr(slicer, name.split(".", 1)[1], module)
    if scene is None:  # as in Slicer, the Colors and Sequences logics have the scene (nodes, proxies on playback)
        from DTCSegmentationLib.mrml.scene import new_scene

        scene = new_scene()
    slicer.mrmlScene = scene
    slicer.app = Application(slicer.mrmlScene, testing)
    slicer.modules = types.SimpleNamespace(plots=types.SimpleNamespace(logic=lambda: slicer.app.plots_logic))
    SampleDataLogic.sources, PyTorchUtilsLogic.installs, PyTorchUtilsLogic.present = {}, [], False
    slicer.util.pip_install = _recorder("pip")
    slicer.util.loadUI = lambda path: Widget(ui_path=path)
    slicer.util.childWidgetVariables = lambda widget: _ui_file(widget.ui_path)
    slicer.qMRMLPlotWidget = Widget
    slicer.util.errorDisplay = _recorder("error")
    slicer.util.infoDisplay = _recorder("info")
    slicer.util.confirmOkCancelDisplay = _recorder("confirm", answer=True)
    QSettings.store = {}
    return slicer.app


DISPLAYED = []
"""``(kind, text)`` of every message box shown (``errorDisplay``, ``infoDisplay``, ``confirmOkCancelDisplay``),
and of every ``pip_install`` call."""


def _recorder(kind, answer=None):
    def display(text, *args, **kwargs):
        DISPLAYED.append((kind, text))
        return answer
    return display


@contextlib.contextmanager
def installed(testing=False, scene=None):
    """:func:`install` for the duration of a ``with`` block, then everything as it was."""
    saved_modules = {name: sys.modules.get(name) for name in _modules(testing)}
    names = ("app", "mrmlScene", "modules", "ScriptedLoadableModule", "parameterNodeWrapper", "i18n", "qMRMLPlotWidget")
    missing = object()
    saved_attributes = {name: getattr(slicer, name, missing) for name in names}
    saved_util = {name: getattr(slicer.util, name) for name in ("errorDisplay", "infoDisplay", "confirmOkCancelDisplay",
                                                                "loadUI", "childWidgetVariables", "pip_install")}
    DISPLAYED.clear()
    try:
        yield install(testing, scene)
    finally:
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        for name, value in saved_attributes.items():
            if value is missing:
                if hasattr(slicer, name):
                    delattr(slicer, name)
            else:
                setattr(slicer, name, value)
        for name, value in saved_util.items():
            setattr(slicer.util, name, value)


def load_module(module_name, register=False):
    """Import ``<module_name>/<module_name>.py`` as Slicer does (its folder on ``sys.path``); a fresh module
    object each call (``register``: also as ``sys.modules[module_name]``, which unittest's loader needs)."""
    folder = REPO_ROOT / module_name
    for path in (str(REPO_ROOT / "DTCSegmentation"), str(folder)):
        if path not in sys.path:
            sys.path.insert(0, path)
    spec = importlib.util.spec_from_file_location(module_name, folder / f"{module_name}.py")
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def ui(module_name):
    """``self.ui`` as ``slicer.util.childWidgetVariables(loadUI(...))`` gives it: every named widget of the
    module's .ui file, as a stand-in (``ctkPathLineEdit`` with the file's ``settingKey``)."""
    return _ui_file(REPO_ROOT / module_name / "Resources" / "UI" / f"{module_name}.ui")


def _ui_file(path):
    import xml.etree.ElementTree as ElementTree

    tree = ElementTree.parse(path)
    widgets = {}
    for element in tree.iter("widget"):
        strings = {prop.get("name"): prop.find("string") for prop in element.findall("property")}
        strings = {name: value.text or "" for name, value in strings.items() if value is not None}
        widget = PathLineEdit(settingKey=strings.get("settingKey", "")) if element.get("class") == "ctkPathLineEdit" else Widget()
        for name in ("text", "toolTip"):
            if name in strings:
                setattr(widget, name, strings[name])
        enabled = element.find("property[@name='enabled']/bool")
        if enabled is not None:
            widget.enabled = enabled.text == "true"
        widgets[element.get("name")] = widget
    return types.SimpleNamespace(**widgets)

