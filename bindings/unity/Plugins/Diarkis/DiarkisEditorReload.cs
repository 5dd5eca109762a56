// Unity Editor: entering/leaving Play mode or recompiling scripts reloads the
// scripting domain. Contexts left open would keep their native network threads
// (and sockets) running into the next domain, where no script knows them:
// dispose them all just before the reload. Outside the Editor, process exit
// does the same through AppDomain.DomainUnload / ProcessExit.
using System;

namespace Diarkis
{
#if UNITY_EDITOR
    [UnityEditor.InitializeOnLoad]
#endif
    public static class DiarkisEditorReload
    {
        static DiarkisEditorReload()
        {
#if UNITY_EDITOR
            UnityEditor.AssemblyReloadEvents.beforeAssemblyReload += DiarkisContext.DisposeAll;
            UnityEditor.EditorApplication.playModeStateChanged += s =>
            {
                if (s == UnityEditor.PlayModeStateChange.ExitingPlayMode) DiarkisContext.DisposeAll();
            };
#endif
            AppDomain.CurrentDomain.DomainUnload += (o, e) => DiarkisContext.DisposeAll();
            AppDomain.CurrentDomain.ProcessExit += (o, e) => DiarkisContext.DisposeAll();
        }

        // Outside the Editor nothing runs the static constructor by itself: the
        // first context calls this.
        public static void Install() { }
    }
}
