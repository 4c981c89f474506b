# One long-lived PowerShell process of the sandbox's pwsh fleet (sandbox/pwsh-fleet.ts), running
# MANY jobs (one command's script each) at once, each in a runspace of its own.
#
# It runs the documents' scripts exactly as the synthesized documents carry them (rendered to
# -Rendered by sandbox/pwsh-fleet.ts). A runspace is opened when a job arrives and none is idle,
# loads the Windows seam (sandbox/pwsh-shim.ps1) once, and then runs one job after another: a
# script that waits in virtual time holds a runspace (a thread), not a process, so no command
# ever waits for a free worker. After each job the runspace drops the globals, functions and
# aliases the job left, so nothing of one node's run leaks into the next job there.
#
# Per job, and per runspace rather than per process:
# - the environment the scripts read as $env:NAME (COMPUTERNAME, SSM_Payload,
#   PROCESSOR_ARCHITECTURE, ...): each runspace's Env: drive is a drive of the Alias provider
#   (session state of that runspace; the process environment is shared by all threads), holding
#   the job's values. [Environment]::ExpandEnvironmentVariables still reads the process
#   environment: the Windows folders it expands (windir, ProgramData, ...) are the same for every
#   node and are set there too.
# - what the script prints through [Console]::Out and [Console]::Error: both are routed by thread
#   (RolloutSandbox.Hub), and a runspace runs its job on one thread.
#
# Protocol: one JSON object per line, "t" then "id" (the job id) first.
#   sandbox -> worker  {"t":"job","id":7,"key":"drain","payload":"<base64>","computer":"NODE1",...}
#                      {"t":"reply","id":7,"value":...}   the answer to job 7's last call
#                      {"t":"abort","id":7}               job 7's command ended (timeout, cancel)
#   worker -> sandbox  {"t":"ready"}
#                      {"t":"call","id":7,"name":"Wait-RolloutSeconds","args":{...},"out":"...","err":"..."}
#                      {"t":"done","id":7,"code":0,"out":"...","err":"...","runspaces":3,"ms":{...}}
#                      (ms: the job's setup, script (seam calls included) and cleanup, and its
#                      seam calls (round trips to the sandbox), in wall ms)
# "out" and "err" carry what the job's script printed since its last message.
param([Parameter(Mandatory = $true)] [string] $Rendered)

$ErrorActionPreference = 'Stop'

$hubSource = @'
using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Text;
using System.Text.Json;
using System.Threading;

namespace RolloutSandbox
{
    /// <summary>The worker's pipes, shared by its runspaces: one writer, one inbox per runspace.</summary>
    public static class Hub
    {
        private static readonly object Gate = new object();
        private static readonly ConcurrentDictionary<int, BlockingCollection<string>> Inboxes = new ConcurrentDictionary<int, BlockingCollection<string>>();
        private static readonly ConcurrentDictionary<long, int> Jobs = new ConcurrentDictionary<long, int>();
        private static readonly ConcurrentStack<int> Idle = new ConcurrentStack<int>();
        private static TextWriter protocol;
        private static int runspaces;
        [ThreadStatic] private static StringWriter printedOut;
        [ThreadStatic] private static StringWriter printedErr;
        [ThreadStatic] private static double seamMs;

        /// <summary>Wall ms this thread's job spent in seam calls (sending, waiting for the answer, reading it).</summary>
        public static double SeamMs { get { return seamMs; } }

        public static int Runspaces { get { return runspaces; } }

        /// <summary>Keeps stdout for the protocol; the scripts' Console.Out and Console.Error are routed by thread.</summary>
        public static void Init()
        {
            protocol = Console.Out;
            TextWriter stderr = Console.Error;
            Console.SetOut(new RoutedWriter(false, stderr));
            Console.SetError(new RoutedWriter(true, stderr));
        }

        public static void Send(string line)
        {
            lock (Gate)
            {
                protocol.Write(line);
                protocol.Write('\n');
                protocol.Flush();
            }
        }

        public static int NewRunspace()
        {
            int slot = Interlocked.Increment(ref runspaces);
            Inboxes[slot] = new BlockingCollection<string>();
            return slot;
        }

        /// <summary>An idle runspace's slot, or 0.</summary>
        public static int TakeIdle()
        {
            int slot;
            return Idle.TryPop(out slot) ? slot : 0;
        }

        public static void Assign(long job, int slot, string line)
        {
            Jobs[job] = slot;
            Inboxes[slot].Add(line);
        }

        public static bool Deliver(long job, string line)
        {
            int slot;
            if (!Jobs.TryGetValue(job, out slot)) return false;
            Inboxes[slot].Add(line);
            return true;
        }

        /// <summary>The next line for this runspace; null once the worker closes.</summary>
        public static string Receive(int slot)
        {
            try { return Inboxes[slot].Take(); }
            catch (InvalidOperationException) { return null; }
        }

        /// <summary>The job ended: its runspace is idle again.</summary>
        public static void Finish(long job, int slot)
        {
            int ignored;
            Jobs.TryRemove(job, out ignored);
            Idle.Push(slot);
        }

        public static void Close()
        {
            foreach (BlockingCollection<string> inbox in Inboxes.Values) inbox.CompleteAdding();
        }

        /// <summary>From now on this thread's Console output is the job's.</summary>
        public static void Route()
        {
            printedOut = new StringWriter();
            printedErr = new StringWriter();
            seamMs = 0;
        }

        public static void Unroute()
        {
            printedOut = null;
            printedErr = null;
        }

        /// <summary>What this thread's job printed since the last call: [out, err].</summary>
        public static string[] TakePrinted()
        {
            string[] printed = { Drain(printedOut), Drain(printedErr) };
            return printed;
        }

        private static string Drain(StringWriter writer)
        {
            if (writer == null) return "";
            string text = writer.ToString();
            writer.GetStringBuilder().Clear();
            return text;
        }

        /// <summary>
        /// A seam call of this thread's job: what the script printed so far and the call go out, the
        /// sandbox's answer comes back as ConvertFrom-Json would give it (PSCustomObject, object[],
        /// long, double, string, bool, null). In C#: cmdlet JSON cost about 2 ms a call.
        /// </summary>
        public static object Call(long job, int slot, string name, object arguments)
        {
            long began = System.Diagnostics.Stopwatch.GetTimestamp();
            try { return CallAndWait(job, slot, name, arguments); }
            finally { seamMs += System.Diagnostics.Stopwatch.GetElapsedTime(began).TotalMilliseconds; }
        }

        private static object CallAndWait(long job, int slot, string name, object arguments)
        {
            StringBuilder line = new StringBuilder(256);
            line.Append("{\"t\":\"call\",\"id\":").Append(job.ToString(CultureInfo.InvariantCulture));
            line.Append(",\"name\":");
            WriteJson(line, name);
            line.Append(",\"args\":");
            WriteJson(line, arguments);
            string[] printed = TakePrinted();
            line.Append(",\"out\":");
            WriteJson(line, printed[0]);
            line.Append(",\"err\":");
            WriteJson(line, printed[1]);
            line.Append('}');
            Send(line.ToString());
            string reply = Receive(slot);
            if (reply == null) throw new InvalidOperationException("sandbox: the worker is closing");
            using (JsonDocument document = JsonDocument.Parse(reply))
            {
                JsonElement root = document.RootElement;
                if (root.GetProperty("t").GetString() == "abort") throw new InvalidOperationException("sandbox: the command ended while the script ran");
                JsonElement value;
                return root.TryGetProperty("value", out value) ? FromJson(value) : null;
            }
        }

        private static object FromJson(JsonElement value)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.Object:
                    PSObject result = new PSObject();
                    foreach (JsonProperty property in value.EnumerateObject())
                        result.Properties.Add(new PSNoteProperty(property.Name, FromJson(property.Value)));
                    return result;
                case JsonValueKind.Array:
                    object[] items = new object[value.GetArrayLength()];
                    int at = 0;
                    foreach (JsonElement item in value.EnumerateArray()) items[at++] = FromJson(item);
                    return items;
                case JsonValueKind.String:
                    return value.GetString();
                case JsonValueKind.Number:
                    long whole;
                    if (value.TryGetInt64(out whole)) return whole;
                    return value.GetDouble();
                case JsonValueKind.True:
                    return true;
                case JsonValueKind.False:
                    return false;
                default:
                    return null;
            }
        }

        private static void WriteJson(StringBuilder line, object value)
        {
            PSObject wrapped = value as PSObject;
            if (wrapped != null) value = wrapped.BaseObject;
            if (value == null) { line.Append("null"); return; }
            string text = value as string;
            if (text != null)
            {
                line.Append('"');
                foreach (char c in text)
                {
                    switch (c)
                    {
                        case '"': line.Append("\\\""); break;
                        case '\\': line.Append("\\\\"); break;
                        case '\n': line.Append("\\n"); break;
                        case '\r': line.Append("\\r"); break;
                        case '\t': line.Append("\\t"); break;
                        default:
                            if (c < ' ') line.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                            else line.Append(c);
                            break;
                    }
                }
                line.Append('"');
                return;
            }
            if (value is bool) { line.Append((bool)value ? "true" : "false"); return; }
            if (value is SwitchParameter) { line.Append(((SwitchParameter)value).IsPresent ? "true" : "false"); return; }
            if (value is double || value is float || value is decimal)
            {
                double number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                line.Append(double.IsFinite(number) ? number.ToString("R", CultureInfo.InvariantCulture) : "null");
                return;
            }
            if (value is int || value is long || value is short || value is byte || value is uint || value is ulong || value is ushort || value is sbyte)
            {
                line.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
                return;
            }
            IDictionary dictionary = value as IDictionary;
            if (dictionary != null)
            {
                line.Append('{');
                bool first = true;
                foreach (DictionaryEntry entry in dictionary)
                {
                    if (!first) line.Append(',');
                    first = false;
                    WriteJson(line, Convert.ToString(entry.Key, CultureInfo.InvariantCulture));
                    line.Append(':');
                    WriteJson(line, entry.Value);
                }
                line.Append('}');
                return;
            }
            IEnumerable list = value as IEnumerable;
            if (list != null)
            {
                line.Append('[');
                bool first = true;
                foreach (object item in list)
                {
                    if (!first) line.Append(',');
                    first = false;
                    WriteJson(line, item);
                }
                line.Append(']');
                return;
            }
            WriteJson(line, Convert.ToString(value, CultureInfo.InvariantCulture));
        }

        internal static TextWriter Current(bool error)
        {
            return error ? printedErr : printedOut;
        }
    }

    /// <summary>Console.Out / Console.Error: the current thread's job, else the real stderr.</summary>
    internal sealed class RoutedWriter : TextWriter
    {
        private readonly bool error;
        private readonly TextWriter fallback;

        public RoutedWriter(bool error, TextWriter fallback)
        {
            this.error = error;
            this.fallback = fallback;
        }

        public override Encoding Encoding { get { return Encoding.UTF8; } }

        private TextWriter Target { get { return Hub.Current(error) ?? fallback; } }

        public override void Write(char value) { Target.Write(value); }
        public override void Write(string value) { Target.Write(value); }
        public override void Write(char[] buffer, int index, int count) { Target.Write(buffer, index, count); }
        public override void WriteLine() { Target.WriteLine(); }
        public override void WriteLine(string value) { Target.WriteLine(value); }
        public override void Flush() { Target.Flush(); }
    }
}
'@

# Compiling the class costs about 1.7 CPU s at every start (6-10 s of wall time under load), so it
# is compiled once per source text and PowerShell version into the checkout's own cache
# (node_modules/.cache, not a shared temp folder another user could write), and loaded from
# there. Several workers may start at once: each compiles under a name of its own and moves it
# in without replacing (rename, never delete-then-rename, so no worker can see the file missing
# or half written); the one that finds it there already drops its own copy.
$hubKey = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($hubSource + '|' + $PSVersionTable.PSVersion)))
$hubCache = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../node_modules/.cache/rollout-sandbox'))
$null = [IO.Directory]::CreateDirectory($hubCache)
$hubAssembly = Join-Path $hubCache ('hub-' + $hubKey.Substring(0, 16) + '.dll')
if (-not [IO.File]::Exists($hubAssembly)) {
    $partial = $hubAssembly + '.' + $PID + '.partial'
    Add-Type -TypeDefinition $hubSource -OutputAssembly $partial
    try {
        [IO.File]::Move($partial, $hubAssembly, $false)
    }
    catch [System.IO.IOException] {
        if (-not [IO.File]::Exists($hubAssembly)) { throw }
        [IO.File]::Delete($partial)
    }
}
Add-Type -LiteralPath $hubAssembly

[RolloutSandbox.Hub]::Init()

# What every runspace runs: the shim once, then its jobs, one after another.
$runspaceLoop = {
    param([int] $Slot, [string] $Rendered, [string] $Shim)
    $ErrorActionPreference = 'Stop'
    $global:SandboxSlot = $Slot
    $global:SandboxJobId = 0
    $null = . $Shim
    Remove-PSDrive -Name Env -Force
    $null = New-PSDrive -Name Env -PSProvider Alias -Root '' -Scope Global
    $global:LASTEXITCODE = 0
    & {
        # What a job may not leave behind: anything global that is not here now.
        $sandboxKeep = @{
            variables = [Collections.Generic.HashSet[string]]::new([StringComparer]::OrdinalIgnoreCase)
            functions = [Collections.Generic.HashSet[string]]::new([StringComparer]::OrdinalIgnoreCase)
            aliases = [Collections.Generic.HashSet[string]]::new([StringComparer]::OrdinalIgnoreCase)
        }
        foreach ($name in (Get-Variable -Scope Global).Name) { $null = $sandboxKeep.variables.Add($name) }
        foreach ($name in (Get-ChildItem -Path Function:).Name) { $null = $sandboxKeep.functions.Add($name) }
        foreach ($name in (Get-Alias -Scope Global).Name) { $null = $sandboxKeep.aliases.Add($name) }
        for (;;) {
            $sandboxLine = [RolloutSandbox.Hub]::Receive($Slot)
            if ($null -eq $sandboxLine) { break }
            $sandboxJob = ConvertFrom-Json -InputObject $sandboxLine -DateKind String
            if ($sandboxJob.t -ne 'job') { continue }
            $global:SandboxJobId = [long]$sandboxJob.id
            $sandboxCode = 0
            $sandboxClock = [Diagnostics.Stopwatch]::StartNew()
            $sandboxTimes = [ordered]@{ setup = 0.0; script = 0.0; seam = 0.0; cleanup = 0.0 }
            [RolloutSandbox.Hub]::Route()
            try {
                # The job's environment, as $env:NAME (this runspace's Env: drive).
                $sandboxEnvironment = [ordered]@{
                    SSM_Payload = [string]$sandboxJob.payload
                    COMPUTERNAME = [string]$sandboxJob.computer
                    PROCESSOR_ARCHITECTURE = [string]$sandboxJob.architecture
                }
                foreach ($variable in $sandboxJob.environment.PSObject.Properties) {
                    $sandboxEnvironment[$variable.Name] = [string]$variable.Value
                    [Environment]::SetEnvironmentVariable($variable.Name, [string]$variable.Value)
                }
                foreach ($entry in $sandboxEnvironment.GetEnumerator()) {
                    if ($entry.Value -ne '') { Set-Alias -Name $entry.Key -Value $entry.Value -Scope Global -Force }
                }
                $global:LASTEXITCODE = 0
                $sandboxTimes.setup = $sandboxClock.Elapsed.TotalMilliseconds
                $null = & (Join-Path $Rendered ([string]$sandboxJob.key + '.ps1'))
                $sandboxCode = $global:LASTEXITCODE
            }
            catch {
                [Console]::Error.WriteLine('SANDBOX WORKER ERROR ' + $_.Exception.Message)
                $sandboxCode = 1
            }
            $sandboxTimes.script = $sandboxClock.Elapsed.TotalMilliseconds - $sandboxTimes.setup
            $sandboxTimes.seam = [RolloutSandbox.Hub]::SeamMs
            $sandboxPrinted = [RolloutSandbox.Hub]::TakePrinted()
            [RolloutSandbox.Hub]::Unroute()
            try {
                foreach ($variable in @(Get-Variable -Scope Global)) {
                    if (-not $sandboxKeep.variables.Contains($variable.Name)) { Remove-Variable -Name $variable.Name -Scope Global -Force -ErrorAction SilentlyContinue }
                }
                foreach ($function in @(Get-ChildItem -Path Function:)) {
                    if (-not $sandboxKeep.functions.Contains($function.Name)) { Remove-Item -LiteralPath ('Function:\' + $function.Name) -Force -ErrorAction SilentlyContinue }
                }
                foreach ($alias in @(Get-Alias -Scope Global)) {
                    if (-not $sandboxKeep.aliases.Contains($alias.Name)) { Remove-Item -LiteralPath ('Alias:\' + $alias.Name) -Force -ErrorAction SilentlyContinue }
                }
                $global:Error.Clear()
            }
            catch {
                $sandboxPrinted[1] += 'SANDBOX WORKER ERROR cleaning up: ' + $_.Exception.Message + "`n"
                $sandboxCode = 1
            }
            $sandboxTimes.cleanup = $sandboxClock.Elapsed.TotalMilliseconds - $sandboxTimes.setup - $sandboxTimes.script
            $sandboxDone = @{ t = 'done'; id = $global:SandboxJobId; code = $sandboxCode; out = $sandboxPrinted[0]; err = $sandboxPrinted[1]; runspaces = [RolloutSandbox.Hub]::Runspaces; ms = $sandboxTimes }
            [RolloutSandbox.Hub]::Finish($global:SandboxJobId, $Slot)
            [RolloutSandbox.Hub]::Send((ConvertTo-Json -InputObject $sandboxDone -Compress))
        }
    }
}

$sessionState = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
$shim = Join-Path $PSScriptRoot 'pwsh-shim.ps1'
# Held so that the runspaces' pipelines are not collected.
$pipelines = [Collections.Generic.List[powershell]]::new()

function Open-SandboxRunspace {
    $slot = [RolloutSandbox.Hub]::NewRunspace()
    $runspace = [runspacefactory]::CreateRunspace($sessionState)
    $runspace.ThreadOptions = [System.Management.Automation.Runspaces.PSThreadOptions]::ReuseThread
    $runspace.Open()
    $pipeline = [powershell]::Create()
    $pipeline.Runspace = $runspace
    $null = $pipeline.AddScript($runspaceLoop).AddArgument($slot).AddArgument($Rendered).AddArgument($shim)
    $null = $pipeline.BeginInvoke()
    $pipelines.Add($pipeline)
    return $slot
}

[RolloutSandbox.Hub]::Send('{"t":"ready"}')
for (;;) {
    $line = [Console]::In.ReadLine()
    if ($null -eq $line) { break }
    if ($line -notmatch '^\{"t":"(\w+)","id":(\d+)') {
        [Console]::Error.WriteLine('pwsh worker: a line without "t" and "id" first: ' + $line.Substring(0, [Math]::Min(200, $line.Length)))
        continue
    }
    $id = [long]$Matches[2]
    if ($Matches[1] -eq 'job') {
        $slot = [RolloutSandbox.Hub]::TakeIdle()
        if ($slot -eq 0) { $slot = Open-SandboxRunspace }
        [RolloutSandbox.Hub]::Assign($id, $slot, $line)
    }
    elseif (-not [RolloutSandbox.Hub]::Deliver($id, $line)) {
        [Console]::Error.WriteLine('pwsh worker: no running job ' + $id)
    }
}
[RolloutSandbox.Hub]::Close()
[Environment]::Exit(0)
